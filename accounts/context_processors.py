def portal(request):
    """The header needs the signed-in user's membership (set by `portal_view` when known)."""
    return {"membership": getattr(request, "membership", None)}
