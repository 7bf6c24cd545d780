"""The one-page ``summary.html`` of a validation report (self-contained; figures beside it)."""

from __future__ import annotations

from jinja2 import Environment

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>PneumoScan validation: {{ r.source }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#1a1a1a}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left} .muted{color:#666} .note{background:#fff6e0;padding:.6em .8em}
figure{display:inline-block;margin:.5em 1em .5em 0} img{max-width:480px}
tr.run{font-weight:bold;background:#fff0f0}
</style></head><body>
<h1>External validation: {{ r.source }}</h1>
<p class="muted">Model {{ r.run.model_version or "?" }}{% if r.run.model_id %} ({{ r.run.model_id }}){% endif %},
threshold {{ "%.4f"|format(r.run.threshold) }}{% if r.run.operating_point %} ({{ r.run.operating_point }}){% endif %}.
Data {{ r.data.path }} ({{ r.data.kind }}), fingerprint {{ r.data.fingerprint[:23] }}…; made {{ r.created_at }}.</p>
<p class="note">Every image went through the same checks as an upload. Refused images got no answer; the metrics
below describe only the answered NORMAL and PNEUMONIA images. Intervals are 95% bootstrap intervals.</p>

<h2>Images, refusals and calls</h2>
<table><tr><th>label</th><th>images</th><th>refused</th><th>by reason</th><th>answered</th>
<th>called pneumonia</th></tr>
{% for label, c in r.by_class.items() %}<tr><td>{{ label }}</td><td>{{ c.n }}</td>
<td>{{ pct((c.n - c.answered) / c.n if c.n else None) }}</td>
<td>{% for reason, k in c.refused.items() %}{{ reason }} {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}</td>
<td>{{ c.answered }}</td><td>{{ c.called_pneumonia }} ({{ pct(c.called_pneumonia_share) }})</td></tr>
{% endfor %}<tr><td><b>all</b></td><td>{{ r.n }}</td><td>{{ pct(r.refused_share_total) }}</td>
<td>{% for reason, k in r.refused.items() %}{{ reason }} {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}</td>
<td>{{ r.answered }}</td><td>{{ pct(r.pneumonia_called_share) }}</td></tr></table>

<h2>Metrics on the answered images (NORMAL {{ r.metrics_n.NORMAL }}, PNEUMONIA {{ r.metrics_n.PNEUMONIA }})</h2>
<table><tr><th>metric</th><th>value</th><th>95% CI</th></tr>
{% for k in ["auc", "sensitivity", "specificity", "ppv", "npv", "accuracy", "brier"] %}{% set m = r.metrics[k] %}
<tr><td>{{ names[k] }}</td>
{% if m %}<td>{{ num(m.value) }}</td><td>{{ num(m.ci_low) }}–{{ num(m.ci_high) }}</td>
{% else %}<td colspan="2" class="muted">not available: {{ r.null_reasons[k] }}</td>{% endif %}</tr>
{% endfor %}</table>

<h2>Figures</h2>
{% for name, file in r.figures.items() %}<figure><img src="{{ file }}" alt="{{ name }}"><figcaption>{{ name }}
</figcaption></figure>{% endfor %}

{% if r.operating_points %}<h2>Operating points (answered images)</h2>
<table><tr><th>threshold</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th>
<th>called pneumonia</th></tr>
{% for o in r.operating_points %}<tr{% if o.is_run_threshold %} class="run"{% endif %}>
<td>{{ "%.3f"|format(o.threshold) }}{% if o.is_run_threshold %} (run){% endif %}</td>
<td>{{ num(o.sensitivity) }}</td><td>{{ num(o.specificity) }}</td><td>{{ num(o.ppv) }}</td><td>{{ num(o.npv) }}</td>
<td>{{ pct(o.called_pneumonia) }}</td></tr>{% endfor %}</table>{% endif %}

{% for column, groups in r.subgroups.items() %}<h2>By {{ column | replace("_", " ") }}</h2>
<table><tr><th>{{ column }}</th><th>images</th><th>refused</th><th>answered</th><th>called pneumonia</th>
<th>AUC</th><th>sensitivity</th><th>specificity</th><th>Brier</th></tr>
{% for g, s in groups.items() %}<tr><td>{{ g }}</td><td>{{ s.n }}</td><td>{{ pct(s.refused_share_total) }}</td>
<td>{{ s.answered }}</td><td>{{ pct(s.pneumonia_called_share) }}</td>
{% for k in ["auc", "sensitivity", "specificity", "brier"] %}<td>{{ ci(s.metrics[k]) }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endfor %}
<p class="muted">Files: report.json (everything above), predictions.csv (one row per image).
PneumoScan is a screening aid and does not replace a clinician's diagnosis.</p>
</body></html>
"""


_NAMES = {"auc": "AUC", "sensitivity": "sensitivity", "specificity": "specificity", "ppv": "PPV", "npv": "NPV",
          "accuracy": "accuracy", "brier": "Brier score"}


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _ci(m: dict | None) -> str:
    if not m:
        return "–"
    if m.get("ci_low") is None:
        return _num(m["value"])
    return f"{m['value']:.3f} ({m['ci_low']:.3f}–{m['ci_high']:.3f})"


def render_summary(report: dict) -> str:
    """The HTML page for ``report`` (values escaped; figures referenced by relative file name)."""
    env = Environment(autoescape=True)
    return env.from_string(_TEMPLATE).render(r=report, num=_num, pct=_pct, ci=_ci, names=_NAMES)
