"""Pages of exercises: list, detail, and (admins) create, edit, archive."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import access
from evaluations.forms.exercises import ExerciseForm
from evaluations.models import Exercise
from evaluations.selectors import exercises as selectors
from evaluations.services.exercises import exercise_archive, exercise_create, exercise_update
from portal.forms import form_errors_add
from portal.pagination import page_of


@login_required
def exercise_list(request: HttpRequest) -> HttpResponse:
    show_archived = request.GET.get("archived") == "1"
    exercises = selectors.exercise_list(user=request.user, include_archived=show_archived)
    return render(request, "evaluations/exercises/list.html", {
        "page": page_of(request, exercises), "show_archived": show_archived,
        "can_create": access.can(request.user, access.CREATE, Exercise),
        "is_partner": access.is_partner_viewer(request.user),
    })


@login_required
def exercise_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = access.get_visible_or_404(request.user, Exercise.objects.prefetch_related("institutes", "partners"), pk=pk)
    partners = selectors.exercise_partners(user=request.user, exercise=exercise)
    return render(request, "evaluations/exercises/detail.html", {
        "exercise": exercise, "partners": partners,
        "overview": selectors.exercise_overview(user=request.user, exercise=exercise),
        "can_edit": access.can(request.user, access.EDIT, exercise),
        "can_archive": access.can(request.user, access.DELETE, exercise) and exercise.archived_at is None,
    })


@login_required
@require_http_methods(["GET", "POST"])
def exercise_create_view(request: HttpRequest) -> HttpResponse:
    access.require(request.user, access.CREATE, Exercise, "Only portal admins create exercises.")
    form = ExerciseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            exercise = exercise_create(
                actor=request.user, request=request, name=data["name"], description=data["description"],  # type: ignore[arg-type]
                institutes=list(data["institutes"]), partners=list(data["partners"]), starts_on=data["starts_on"],
                ends_on=data["ends_on"], status=data["status"],
            )
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, f"You created the exercise {exercise.name}. Its institutes can now register "
                                      "models and evaluations in it.")
            return redirect("exercise_detail", pk=exercise.pk)
    return render(request, "evaluations/exercises/form.html", {"form": form, "exercise": None})


@login_required
@require_http_methods(["GET", "POST"])
def exercise_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = access.get_visible_or_404(request.user, Exercise.objects.all(), pk=pk)
    access.require(request.user, access.EDIT, exercise, "Only portal admins edit exercises.")
    form = ExerciseForm(request.POST or None, instance=Exercise.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["institutes"] = list(data["institutes"])
        data["partners"] = list(data["partners"])
        try:
            exercise_update(actor=request.user, exercise=exercise, request=request, **data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, f"You saved your changes to the exercise {exercise.name}.")
            return redirect("exercise_detail", pk=exercise.pk)
    return render(request, "evaluations/exercises/form.html", {"form": form, "exercise": exercise})


@login_required
@require_POST
def exercise_archive_view(request: HttpRequest, pk: int) -> HttpResponse:
    exercise = access.get_visible_or_404(request.user, Exercise.objects.all(), pk=pk)
    access.require(request.user, access.DELETE, exercise, "Only portal admins archive exercises.")
    exercise_archive(actor=request.user, exercise=exercise, request=request)  # type: ignore[arg-type]
    messages.success(request, f"You archived the exercise {exercise.name}. It stays readable, and nothing new can "
                              "be added to it.")
    return redirect("exercise_list")
