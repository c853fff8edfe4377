"""The citizens' board (questions and proposals). Built by the board issue."""

from flask import Blueprint, render_template

bp = Blueprint("board", __name__, url_prefix="/board", template_folder="templates")


@bp.get("/")
def index():
    return render_template("board/index.html")
