"""Pages for people. Thin: parse, authorise, call one service, render."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "odr/home.html")
