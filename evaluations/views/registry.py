"""Pages of the model registry. Views parse input, call one service or selector, and render."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import CREATE, DELETE, EDIT, can, require, visible_to
from accounts.gates import institute_member_required
from accounts.reauth import reauthentication_required
from evaluations.forms.registry import FIELD_MAP, CreateModelForm, CredentialForm, ModelForm
from evaluations.models import RegisteredModel
from evaluations.selectors import registry as selectors
from evaluations.selectors.trends import trend_pairs_for_model
from evaluations.services import registry as services
from portal.forms import form_errors_add
from portal.pagination import page_of
from portal.views import bad_request_response


@login_required
@institute_member_required
def model_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "name")
    page = page_of(request, selectors.model_list(user=request.user, q=q, sort=sort))
    return render(request, "evaluations/models/list.html", {
        "page": page, "q": q, "sort": sort, "may_create": can(request.user, CREATE, RegisteredModel),
    })


def _sets_a_key(request: HttpRequest) -> bool:
    """Registering a model with its API key: a credential change (a recent authentication is needed)."""
    return request.method == "POST" and bool(request.POST.get("api_key")) and can(request.user, CREATE,
                                                                                  RegisteredModel)


def _changes_the_key(request: HttpRequest, pk: int) -> bool:
    """Setting or removing the key of a model the user may set it for."""
    model = visible_to(request.user, RegisteredModel.objects.filter(pk=pk)).first()
    return request.method == "POST" and model is not None and can(request.user, "set_credential", model)


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
@reauthentication_required(when=_sets_a_key)
def model_create(request: HttpRequest) -> HttpResponse:
    require(request.user, CREATE, RegisteredModel)
    form = CreateModelForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            model = services.model_create(
                user=request.user, name=d["name"], exercises=list(d["exercises"]),
                provider_model=d["provider_model"], base_url=d["base_url"], config=form.config(),
                max_connections=d["max_connections"], price_input_per_million=d["price_input_per_million"],
                price_output_per_million=d["price_output_per_million"], notes=d["notes"],
                api_key=d["api_key"] or None, extra_headers=d["extra_headers"], request=request)
        except ValidationError as exc:
            form_errors_add(form, exc, field_map=FIELD_MAP)
        else:
            messages.success(request, f"You registered the model {model.name}. Test its connection before "
                                      "planning a run.")
            return redirect("model-detail", pk=model.pk)
    return render(request, "evaluations/models/form.html", {"form": form, "title": "Register a model"},
                  status=400 if form.errors else 200)


@login_required
@institute_member_required
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(user=request.user, pk=pk)
    return render(request, "evaluations/models/detail.html", {
        "model": model,
        "history": selectors.version_history(registered_model=model),
        "credential": selectors.credential_status(registered_model=model),
        "latest_test": selectors.connection_test_latest(registered_model=model),
        "exercises": model.exercises.all(),
        "may_edit": can(request.user, EDIT, model),
        "may_delete": can(request.user, DELETE, model),
        "may_set_credential": can(request.user, "set_credential", model),
        "may_test": can(request.user, "test_connection", model),
        "trend_pairs": trend_pairs_for_model(user=request.user, model=model),
    })


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(user=request.user, pk=pk)
    require(request.user, EDIT, model)
    current = model.current_version
    initial: dict[str, Any] = {"name": model.name, "notes": model.notes, "exercises": list(model.exercises.all())}
    if current is not None:
        cfg = dict(current.config)
        initial.update({
            "provider_model": current.provider_model, "base_url": current.base_url,
            "max_connections": current.max_connections,
            "price_input_per_million": current.price_input_per_million,
            "price_output_per_million": current.price_output_per_million,
            "stop_seqs": "\n".join(cfg.pop("stop_seqs", []) or []),
        })
        for key in ("temperature", "max_tokens", "seed", "top_p"):
            initial[key] = cfg.pop(key, None)
        initial["other_settings"] = json.dumps(cfg) if cfg else ""
    form = ModelForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _, version = services.model_update(
                user=request.user, registered_model=model, request=request, name=d["name"], notes=d["notes"],
                exercises=list(d["exercises"]), provider_model=d["provider_model"], base_url=d["base_url"],
                config=form.config(), max_connections=d["max_connections"],
                price_input_per_million=d["price_input_per_million"],
                price_output_per_million=d["price_output_per_million"])
        except ValidationError as exc:
            form_errors_add(form, exc, field_map=FIELD_MAP)
        else:
            messages.success(request, f"Saved as version {version.number}." if version else "Saved.")
            return redirect("model-detail", pk=model.pk)
    return render(request, "evaluations/models/form.html", {"form": form, "title": f"Change {model.name}",
                                                            "model": model}, status=400 if form.errors else 200)


@login_required
@institute_member_required
@require_http_methods(["GET", "POST"])
@reauthentication_required(when=_changes_the_key)
def model_credential(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(user=request.user, pk=pk)
    require(request.user, "set_credential", model)
    form = CredentialForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action", "set") not in ("set", "clear"):
        return bad_request_response(request, "The field action is either clear (remove the key) or absent.",
                                    field="action")
    if request.method == "POST" and request.POST.get("action") == "clear":
        services.credential_clear(user=request.user, registered_model=model, request=request)
        messages.success(request, f"You removed the API key of {model.name}.")
        return redirect("model-detail", pk=model.pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.credential_set(user=request.user, registered_model=model, api_key=form.cleaned_data["api_key"],
                                    extra_headers=form.cleaned_data["extra_headers"], request=request)
        except ValidationError as exc:
            form_errors_add(form, exc, field_map=FIELD_MAP)
        else:
            messages.success(request, f"You saved a new API key for {model.name}. Nobody can read it back.")
            return redirect("model-detail", pk=model.pk)
    return render(request, "evaluations/models/credential.html", {
        "form": form, "model": model, "credential": selectors.credential_status(registered_model=model),
    }, status=400 if form.errors else 200)


@login_required
@institute_member_required
@require_POST
def model_archive(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(user=request.user, pk=pk)
    services.model_archive(user=request.user, registered_model=model, request=request)
    messages.success(request, f"You archived the model {model.name}. Runs can no longer use it.")
    return redirect("model-list")


@login_required
@institute_member_required
@require_POST
def model_test_connection(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(user=request.user, pk=pk)
    row = services.connection_test_request(user=request.user, registered_model=model, request=request)
    if request.headers.get("HX-Request"):
        return render(request, "evaluations/models/_connection_test.html", {"test": row, "model": model})
    messages.info(request, f"You asked for a connection test of {model.name}. The result appears on this page "
                           "within a minute.")
    return redirect("model-detail", pk=model.pk)


@login_required
@institute_member_required
def model_connection_test(request: HttpRequest, pk: int, test_pk: int) -> HttpResponse:
    model = selectors.model_get(user=request.user, pk=pk)
    row = selectors.connection_test_get(user=request.user, registered_model=model, pk=test_pk)
    return render(request, "evaluations/models/_connection_test.html", {"test": row, "model": model})
