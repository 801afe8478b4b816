"""Served by `python -m server` in test_mw_upload_memory.py: takes one upload, returns its digest."""

from __future__ import annotations

import hashlib

from miniweb import App

app = App(template_folder=None, max_body_bytes=200 * 1024 * 1024)


@app.route("/upload", methods=["POST"], csrf=False)
def upload(request):
    upload = request.files["file"]
    digest = hashlib.sha256()
    size = 0
    while chunk := upload.read(64 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return {"note": request.form.get("note"), "filename": upload.filename, "size": size,
            "sha256": digest.hexdigest()}  # fmt: skip
