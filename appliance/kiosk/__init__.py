"""The facilitator's touchscreen at /kiosk. Built by the sessions and kiosk issue."""

from flask import Blueprint, render_template

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates")


@bp.get("/")
def index():
    return render_template("kiosk/index.html")
