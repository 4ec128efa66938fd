"""Map spans written in any AI-agent tracing convention onto one canonical record.

Public API: :func:`normalize` (``RawSpan -> Canonical``) and the output types. The
mapping itself is tables, one module per concept:

- :mod:`.rules`, :mod:`.usage`, :mod:`.content`, :mod:`.text`, :mod:`.status`,
  :mod:`.confidence`: each canonical field's candidate sources in priority order
  (SEMCONV 6.2);
- :mod:`.kind`: the span-kind rules (SEMCONV 6.1);
- :mod:`.index`: which keys the tables know, built once at import; :mod:`.scan`: the
  one pass over a span's attributes; :mod:`.signals`: what else wakes a row;
- :mod:`.messages`, :mod:`.unflatten`, :mod:`.values`, :mod:`.provider`,
  :mod:`.events`: decoding helpers; :mod:`.normalizer`: the order they run in.
"""

from collector.normalize.canonical import Canonical, Message
from collector.normalize.normalizer import normalize

__all__ = ["Canonical", "Message", "normalize"]
