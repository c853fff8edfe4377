"""The library pages. The full reader, search and media are built by the library issue."""

from flask import Blueprint, current_app, render_template

from .library import scan

bp = Blueprint("content", __name__, template_folder="templates")


@bp.get("/library/")
def library():
    books = scan(current_app.config["SITE"].content_dir)
    return render_template("content/library.html", books=books)
