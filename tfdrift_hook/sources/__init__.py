"""Where CloudTrail events come from: files today, the CloudTrail API and S3 later.

Every source hands out :class:`~tfdrift_hook.sources.files.SourceRecord` values: one
CloudTrail record as the JSON object AWS wrote, with a ``where`` that names the file (or
request) and the position in it, so that a message about the event can point the user
at it. A source never raises for bad input: it reports each file or record it could not
read to the ``Problems`` it is given and goes on with the rest. What a source must
provide is :class:`~tfdrift_hook.sources.base.EventSource`.
"""
