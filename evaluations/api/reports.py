"""REST API for reports: ``GET /api/v1/exercises/{id}/report.pdf``, the exercise report as the reader may see it
(partners: their current release snapshots with each SHA-256; institute members: the current findings)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.access import is_institute_member, is_partner_viewer
from evaluations.selectors.reports import exercise_report


class ExerciseReportView(APIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY,
                                                                       description="The exercise report (PDF).")})
    def get(self, request: Request, pk: int) -> Any:
        if not is_partner_viewer(request.user) and not is_institute_member(request.user):
            raise NotFound()
        pdf, filename = exercise_report(user=request.user, pk=pk)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"
        return response
