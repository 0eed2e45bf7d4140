"""The report page's jinja2 template (rendered with autoescape by `report.html`).

Accessibility: one h1, an h2 per section (with its CGV article), an h3 per server; every chart
is an ``role="img"`` with a label and is followed by the table of its values; backup marks
and thresholds carry a symbol and words, never colour alone.
"""

PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{ t.title }} — {{ r.client_name }} — {{ month_name(r.month) }}</title>
<style>
body { font-family: system-ui, sans-serif; color: #1a202c; max-width: 60rem; margin: 1rem auto;
  padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 2px solid #2b6cb0; padding-bottom: .2rem; }
.article { font-size: .8rem; font-weight: normal; color: #4a5568; }
.not-monitored { background: #edf2f7; border-left: 4px solid #718096; padding: .5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #cbd5e0; padding: .2rem .4rem; text-align: left; }
caption { text-align: left; font-weight: bold; }
.marks td { text-align: center; min-width: 1.4rem; }
.on_time { background: #c6f6d5; } .late { background: #fefcbf; }
.missing { background: #fed7d7; } .unknown, .not_due { background: #edf2f7; }
.alert { border-left: 4px solid #c53030; padding: .3rem .5rem; font-weight: bold; }
@media print { section { break-inside: auto; } h2, h3 { break-after: avoid; } }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
figure { margin: .5rem 0; } svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<header>
<h1>{{ t.title }} : {{ r.client_name }}</h1>
<p>{{ month_name(r.month) }} · {{ t.generated }} {{ long_date(r.generated_on) }}</p>
</header>
<main>
{% macro head(name) %}
<h2 id="h-{{ name }}">{{ t[name] }} <span class="article">({{ t.article }} {{ articles[name] }})</span></h2>
{% endmacro %}
{% macro absent(section) %}
<p class="not-monitored"><strong>{{ t.not_monitored }}</strong> : {{ t["why_" ~ section.why] }} <small>({{ section.reason }})</small></p>
{% endmacro %}

<section id="availability" aria-labelledby="h-availability">
{{ head("availability") }}
{% if monitored(r.availability) %}
{% for s in r.availability.servers %}
<h3>{{ t.server }} {{ s.server }} : {{ pct(s.month_ratio) }}</h3>
<figure role="group" aria-labelledby="cap-uptime-{{ loop.index }}">
<div role="img" aria-label="{{ t.chart_of }} : {{ t.uptime }} {{ s.server }}">{{ charts["uptime:" ~ s.server] }}</div>
<figcaption id="cap-uptime-{{ loop.index }}">{{ t.uptime }} {{ s.server }}, {{ month_name(r.month) }}</figcaption>
</figure>
<details{{ ' open' if printed else '' }}><summary>{{ t.table_of }} : {{ t.uptime }} {{ s.server }}</summary>
<table><caption>{{ t.uptime }} {{ s.server }}</caption>
<thead><tr><th scope="col">{{ t.day }}</th><th scope="col">{{ t.uptime }}</th></tr></thead>
<tbody>{% for day, ratio in s.daily %}<tr><td>{{ short_date(day) }}</td><td>{{ pct(ratio) }}</td></tr>{% endfor %}</tbody>
</table></details>
{% endfor %}
{% else %}{{ absent(r.availability) }}{% endif %}
</section>

<section id="backups" aria-labelledby="h-backups">
{{ head("backups") }}
{% if monitored(r.backups) %}
<p>{% for mark, (symbol, words) in marks.items() %}<span class="{{ mark.value }}">{{ symbol }}</span> {{ words }}{% if not loop.last %} · {% endif %}{% endfor %}</p>
{% for s in r.backups.servers %}
<h3>{{ t.server }} {{ s.server }}</h3>
<p>{{ t.frequency }} : {{ t[s.frequency] }} · {{ t.schedule }} : {{ s.schedule }} · {{ t.retention }} : {{ s.retention_days }}</p>
{% if s.error %}{{ absent({"why": "unreachable", "reason": t.listing_error ~ " : " ~ s.error}) }}{% else %}
<table class="marks"><caption>{{ t.backups }} {{ s.server }}</caption>
<thead><tr><th scope="col">{{ t.day }}</th>{% for day, mark in s.marks %}<th scope="col">{{ day.day }}</th>{% endfor %}</tr></thead>
<tbody><tr><th scope="row">{{ s.server }}</th>{% for day, mark in s.marks %}<td class="{{ mark.value }}" title="{{ marks[mark][1] }}">{{ marks[mark][0] }}<span class="sr-only"> {{ marks[mark][1] }}</span></td>{% endfor %}</tr></tbody>
</table>
{% endif %}
{% endfor %}
{% else %}{{ absent(r.backups) }}{% endif %}
</section>

<section id="mail" aria-labelledby="h-mail">
{{ head("mail") }}
{% if monitored(r.mail) %}{% set m = r.mail %}
<p>{{ t.quota }} : {{ num(m.included_gb) }} {{ t.gb }} · {{ t.limit }} : {{ num(m.hard_limit_gb) }} {{ t.gb }}</p>
{% if m.hard_limit_reached %}<p class="alert">⚠ {{ t.hard_limit }}</p>{% endif %}
{% for day in m.warned_on %}<p class="alert">⚠ {{ t.warned }} : {{ long_date(day) }}</p>{% endfor %}
<p>{% if m.billed_slices %}{{ t.billed }} : {{ m.billed_slices }} {{ t.slices }} ({{ num(m.billed_excess_gb) }} {{ t.gb }}) = <strong>{{ eur(m.billed_amount_eur) }}</strong>{% else %}{{ t.no_overage }} ({{ eur(m.billed_amount_eur) }}){% endif %}</p>
<figure role="group" aria-labelledby="cap-mail">
<div role="img" aria-label="{{ t.chart_of }} : {{ t.mail }}">{{ charts["mail"] }}</div>
<figcaption id="cap-mail">{{ t.mail }}, {{ month_name(r.month) }}</figcaption>
</figure>
<details open><summary>{{ t.table_of }} : {{ t.mail }}</summary>
<table><caption>{{ t.mail }}</caption>
<thead><tr><th scope="col">{{ t.date }}</th><th scope="col">{{ t.used }}</th></tr></thead>
<tbody>{% for day, used in m.readings %}<tr><td>{{ short_date(day) }}</td><td>{{ num(used) }}{% if used > m.included_gb %} ▲{% endif %}</td></tr>{% endfor %}</tbody>
</table></details>
{% else %}{{ absent(r.mail) }}{% endif %}
</section>

<section id="changes" aria-labelledby="h-changes">
{{ head("changes") }}
{% if monitored(r.changes) %}{% if r.changes.changes %}
<table><caption>{{ t.changes }}</caption>
<thead><tr><th scope="col">{{ t.date }}</th><th scope="col">{{ t.request }}</th><th scope="col">{{ t.summary }}</th><th scope="col">{{ t.commit }}</th><th scope="col">{{ t.reviewer }}</th><th scope="col">{{ t.result }}</th></tr></thead>
<tbody>{% for c in r.changes.changes %}<tr><td>{{ short_date(c.applied_on) }}</td>
<td>{% for id, summary in c.requests %}{{ id }} : {{ summary }}{% if not loop.last %}<br>{% endif %}{% else %}{% if c.internal %}{{ t.internal }}{% else %}—{% endif %}{% endfor %}</td>
<td>{{ c.subject }}</td><td><code>{{ c.commit }}</code></td><td>{{ c.reviewer or t.not_recorded }}</td><td>{{ c.result }}</td></tr>{% endfor %}</tbody>
</table>
{% else %}<p>{{ t.no_change }}</p>{% endif %}
{% else %}{{ absent(r.changes) }}{% endif %}
</section>

<section id="contract" aria-labelledby="h-contract">
{{ head("contract") }}
{% if monitored(r.contract) %}{% set c = r.contract %}
<dl>
<dt>{{ t.price }}</dt><dd>{{ eur(c.monthly_price_eur) }}</dd>
<dt>{{ t.anniversary }}</dt><dd>{{ long_date(c.next_anniversary) if c.next_anniversary else t.none }}</dd>
<dt>{{ t.notice }}</dt><dd>{{ long_date(c.last_notice_day) if c.last_notice_day else t.none }}</dd>
<dt>{{ t.price_notice }}</dt><dd>{% for p in c.price_notices %}{{ short_date(p.notified_on) }} : {{ eur(p.old_monthly_eur) }} → {{ eur(p.new_monthly_eur) }}, {{ t.effective }} {{ long_date(p.effective_on) }}{% if p.termination_deadline %} ({{ t.termination_until }} {{ long_date(p.termination_deadline) }}){% endif %}{% if not loop.last %}<br>{% endif %}{% else %}{{ t.none }}{% endfor %}</dd>
</dl>
{% else %}{{ absent(r.contract) }}{% endif %}
</section>

<section id="advice" aria-labelledby="h-advice">
{{ head("advice") }}
<p>{{ t.freeze_intro }} ({{ month_name(r.advice.month) }})</p>
<ul>{% for f in r.advice.freeze_days %}<li>{{ long_date(f.day) }} — {{ t.eve_of }} {{ holiday(f.holiday) if f.holiday else t.weekend }}</li>{% endfor %}</ul>
</section>
</main>
</body>
</html>
"""
