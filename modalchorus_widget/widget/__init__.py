"""The notebook widgets (anywidget): ``ScatterWidget`` and ``Chorus``, their binary serializers, and the
plain state model that ``Chorus`` draws."""
