"""/api/files: upload (multipart field `file`), download, list, metadata and delete."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from flask import Response, jsonify, request, stream_with_context
from flask_openapi3 import FileStorage
from pydantic import BaseModel

from taskyard_api.auth import current_caller
from taskyard_api.blueprints import api_blueprint
from taskyard_api.errors import ApiError, error_response, invalid_cursor
from taskyard_api.models import ErrorResponse, FileInfo, FileList, FileListQuery, FilePath
from taskyard_api.services import services
from taskyard_common.logs import get_logger
from taskyard_common.storage import CursorInvalid, FileNotFound, FileTooLarge, StoredFile

files_bp = api_blueprint("files", __name__, url_prefix="/api/files")
log = get_logger("taskyard.api")


class UploadForm(BaseModel):
    file: FileStorage


@files_bp.before_request
def _allow_large_uploads() -> None:
    if request.method == "POST":
        # Uploads get their own limit; every other body keeps the small default.
        request.max_content_length = services().settings.max_upload_bytes
        if request.mimetype != "multipart/form-data":
            raise ApiError(415, "upload the file as multipart/form-data, field 'file'")


@files_bp.post(
    "", responses={201: FileInfo, 413: ErrorResponse, 415: ErrorResponse, 422: ErrorResponse}
)
def upload_file(form: UploadForm) -> Response:
    """Upload a file"""
    found = services()
    upload = form.file
    content_type = upload.mimetype
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(upload.filename or "")[0] or "application/octet-stream"
    try:
        stored = found.files.save_stream(
            upload.stream,
            name=upload.filename,
            content_type=content_type,
            max_bytes=found.settings.max_upload_bytes,
            owner=current_caller().name,
        )
    except FileTooLarge as error:
        raise ApiError(413, str(error)) from error
    log.info("file_uploaded", file_id=stored.id, size=stored.size, owner=stored.owner)
    response = jsonify(_info(stored).model_dump())
    response.status_code = 201
    return response


def _info(stored: StoredFile) -> FileInfo:
    return FileInfo(**stored.__dict__)


@files_bp.errorhandler(FileNotFound)
def _no_such_file(error: FileNotFound) -> Response:
    # Another owner's file is as missing as none. The id the client named, not the storage
    # key the backend reports.
    file_id = (request.view_args or {}).get("file_id", "")
    return error_response(ApiError(404, f"no file {file_id}"))


@files_bp.get("", responses={200: FileList, 422: ErrorResponse})
def list_files(query: FileListQuery) -> Response:
    """List the caller's files, newest first (an admin key: every file)"""
    try:
        page = services().files.list_page(
            limit=query.limit, cursor=query.cursor, owner=current_caller().owner_filter
        )
    except CursorInvalid as error:
        raise invalid_cursor(error) from error
    listed = FileList(items=[_info(stored) for stored in page.items], next_cursor=page.next_cursor)
    return jsonify(listed.model_dump())


@files_bp.get("/<file_id>/metadata", responses={200: FileInfo, 404: ErrorResponse})
def get_file_metadata(path: FilePath) -> Response:
    """A file's record"""
    stored = services().files.stat(path.file_id, current_caller().owner_filter)
    return jsonify(_info(stored).model_dump())


@files_bp.delete("/<file_id>", responses={204: None, 404: ErrorResponse})
def delete_file(path: FilePath) -> Response:
    """Delete a file"""
    services().files.delete(path.file_id, current_caller().owner_filter)
    log.info("file_deleted", file_id=path.file_id)
    return Response(status=204)


@files_bp.get("/<file_id>", responses={200: None, 404: ErrorResponse})
def download_file(path: FilePath) -> Response:
    """Download a file"""
    found = services()
    stored = found.files.stat(path.file_id, current_caller().owner_filter)
    chunks = found.files.iter_chunks(stored.id)
    response = Response(stream_with_context(chunks), mimetype=stored.content_type)
    response.headers["Content-Length"] = str(stored.size)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(stored.name)}"
    response.headers["ETag"] = f'"{stored.sha256}"'
    return response
