"""The README's "Writing an app" example. Run it from this directory: python -m server 8000 myapp:app"""

import os

from miniweb import App, redirect

app = App(secret_key=os.environ.get("SECRET_KEY", "dev-only"))  # finds templates/ next to this file


@app.route("/")
def index(request):
    return app.render(request, "hello.html", name=request.args.get("name"))


@app.route(r"/hello/([^/]+)", name="hello")
def hello(request, name):
    return app.render(request, "hello.html", name=name)


@app.route("/greet", methods=["POST"])  # POST forms are CSRF-checked: the template carries the token
def greet(request):
    name = request.form["name"].strip() or "world"  # a missing field is a 400 Bad Request
    return redirect(app.url_for("hello", name))  # 303 See Other; 中文 names are percent-encoded
