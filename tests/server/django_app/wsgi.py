"""`tests.server.django_app.wsgi:application`: POST /upload answers the size and digest Django saw."""

from __future__ import annotations

import hashlib

import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

if not settings.configured:
    settings.configure(
        DEBUG=False, SECRET_KEY="test-only", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
        DATA_UPLOAD_MAX_MEMORY_SIZE=None, MIDDLEWARE=[],
    )  # fmt: skip
    django.setup()


@csrf_exempt
def upload(request):
    body = request.body  # Django reads CONTENT_LENGTH bytes of wsgi.input, no more
    return HttpResponse(f"{len(body)} {hashlib.sha256(body).hexdigest()}", content_type="text/plain")


urlpatterns = [path("upload", upload)]

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings.configure()

application = get_wsgi_application()
