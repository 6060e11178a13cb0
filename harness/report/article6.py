"""The Article 6 security assessment report (`assessment.md`, `assessment.html`), in Chinese or
English, from a run's evidence alone.

Its four parts follow Article 6 of the 2018 Provisions: (1) the service, from the profile's
`about` section as the run recorded it; (2) how each Article 5 measure is implemented and how
well it controls risk, from the verdicts, with the controls the harness cannot check listed for
the assessor; (3) the conclusion, derived from the verdicts: hazards must be rectified before
the report is final, so a run with a failing gating control yields a draft that says the service
is non-conformant and names each hazard; (4) other matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from harness.controls import AUTOMATED
from harness.errors import ConfigError
from harness.report import LANGS
from harness.report.model import ControlRow, RunReport, write_output
from harness.report.templating import environment
from harness.verdicts import Verdict

MD_FILE, HTML_FILE = "assessment.md", "assessment.html"
ABOUT_FIELDS = ("service", "operator", "functions", "scope", "hardware", "software",
                "deployment", "licences", "trigger")
NON_CONFORMANT, NOT_ESTABLISHED, NO_HAZARD = "non_conformant", "not_established", "no_hazard"
ZH_NUMERALS = dict(zip("12345678", "一二三四五六七八", strict=True))

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "互联网信息服务安全评估报告",
        "basis": "依据《具有舆论属性或社会动员能力的互联网信息服务安全评估规定》（2018）第六条",
        NON_CONFORMANT: "草稿：不符合，存在安全隐患，须整改消除后方可形成正式报告",
        NOT_ESTABLISHED: "草稿：未能确认符合，须补足评估后方可形成正式报告",
        NO_HAZARD: "待评估人确认：自动化评估未发现安全隐患，须完成人工评估事项",
        "run": "评估运行", "evidence": "证据", "date": "评估时间",
        "part1": "一、功能、服务范围、软硬件设施、部署位置与证照情况",
        "service": "服务名称", "operator": "运营者", "functions": "功能",
        "scope": "服务范围", "hardware": "硬件设施", "software": "软件设施",
        "deployment": "部署位置", "licences": "证照", "trigger": "评估起因（第三条）",
        "missing": "（待评估人填写）",
        "part2": "二、安全管理制度和技术措施落实情况及风险防控效果",
        "clause": "第五条第（{n}）项", "control": "控制项", "verdict": "结论",
        "coverage": "覆盖（已观察/计划）", "how": "落实情况与防控效果",
        "rates": "规避手法拦截率（95% Wilson 区间下界最低的单元）",
        "latency": "投诉举报处理时长", "assessor": "须评估人完成的事项",
        "automation": "自动化程度", "automated": "自动", "partial": "部分自动",
        "manual": "人工",
        "others_out": "第五条其余各项不在本工具评估范围内，由评估人另行评估并写入本报告。",
        "part3": "三、安全评估结论", "hazards": "须整改的安全隐患",
        "unsettled": "未能确认的控制项",
        "conclusion_" + NON_CONFORMANT: "本次评估发现 {n} 项安全隐患，服务不符合规定。"
                                        "按第六条，须整改消除隐患后重新评估，方可形成正式报告。",
        "conclusion_" + NOT_ESTABLISHED: "本次评估未能确认全部控制项（见下），符合性尚未确立；"
                                         "须补足评估后方可形成正式报告。",
        "conclusion_" + NO_HAZARD: "本次运行范围内的控制项均通过，未发现安全隐患。"
                                   "评估人完成第二部分所列人工事项后，方可形成正式结论。",
        "part4": "四、其他事项", "not_assessed": "本次运行范围以外（未评估）的自动化控制项",
        "measured": "仅作度量、不作门禁的控制项", "faults": "本次运行对内置参考站点开启的故障",
        "violations": "越出允许主机范围而被拒绝的请求", "verify": "核验证据",
        "verify_how": "证据可用 `harness verify {run}` 离线核验；本报告可用 "
                      "`harness report {run} --format article6` 由证据重建。",
        "none": "无",
    },
    "en": {
        "title": "Security assessment report of an internet information service",
        "basis": "Under Article 6 of the Provisions on the Security Assessment of Internet "
                 "Information Services with Public Opinion Attributes or Social Mobilization "
                 "Capability (2018)",
        NON_CONFORMANT: "DRAFT: non-conformant; the hazards below must be rectified before "
                        "the report is final",
        NOT_ESTABLISHED: "DRAFT: conformance not established; the assessment must be "
                         "completed before the report is final",
        NO_HAZARD: "FOR THE ASSESSOR: the automated assessment found no hazard; complete the "
                   "manual items",
        "run": "Run", "evidence": "Evidence", "date": "Assessed",
        "part1": "1. Functions, service scope, hardware and software, deployment location, "
                 "licences",
        "service": "Service", "operator": "Operator", "functions": "Functions",
        "scope": "Service scope", "hardware": "Hardware", "software": "Software",
        "deployment": "Deployment location", "licences": "Licences held",
        "trigger": "Why assessed (Article 3)", "missing": "(for the assessor to complete)",
        "part2": "2. How the security rules and technical measures are implemented, and how "
                 "well they control risk",
        "clause": "Article 5({n})", "control": "Control", "verdict": "Verdict",
        "coverage": "Coverage (observed/planned)", "how": "Implementation and effect",
        "rates": "Evasion families: block rate (the cell with the lowest 95% Wilson lower "
                 "bound)",
        "latency": "Report handling times", "assessor": "For the assessor to complete",
        "automation": "Automation", "automated": "automated", "partial": "partly automated",
        "manual": "manual",
        "others_out": "The other items of Article 5 are outside this harness: the assessor "
                      "assesses them and adds them to this report.",
        "part3": "3. Conclusion", "hazards": "Hazards to rectify",
        "unsettled": "Controls not established",
        "conclusion_" + NON_CONFORMANT: "The assessment found {n} hazard(s): the service does "
                                        "not conform. Under Article 6 they must be rectified "
                                        "and the service assessed again before the report is "
                                        "final.",
        "conclusion_" + NOT_ESTABLISHED: "Not every control could be established (below), so "
                                         "conformance is not established; the assessment must "
                                         "be completed before the report is final.",
        "conclusion_" + NO_HAZARD: "Every control in this run's scope passed and no hazard "
                                   "was found. The conclusion is final once the assessor has "
                                   "completed the manual items of part 2.",
        "part4": "4. Other matters",
        "not_assessed": "Automated controls outside this run's scope (not assessed)",
        "measured": "Controls measured, not gated", "faults": "Faults this run switched on in "
        "the embedded reference site", "violations": "Requests refused for leaving the "
        "allowed hosts", "verify": "Verifying the evidence",
        "verify_how": "The evidence verifies offline with `harness verify {run}`; this report "
                      "is rebuilt from it with `harness report {run} --format article6`.",
        "none": "none",
    },
}


@dataclass(frozen=True)
class Conclusion:
    """Part 3: the state of the report and the controls behind it, from the verdicts."""

    state: str
    hazards: list[ControlRow]
    unsettled: list[ControlRow]


def conclusion(report: RunReport) -> Conclusion:
    """A gating control that failed is a hazard: non-conformant; so is a waived one (a waiver
    lets a launch gate pass, it rectifies nothing). Otherwise a gating control inconclusive,
    an incomplete run or a run that assessed nothing: not established."""
    rows = [r for r in report.rows() if r.judged is not None and r.judged.gating]
    hazards = [r for r in rows if r.judged is not None
               and r.judged.verdict in (Verdict.FAIL, Verdict.WAIVED)]
    unsettled = [r for r in rows if r.judged is not None
                 and r.judged.verdict is Verdict.INCONCLUSIVE]
    if hazards:
        return Conclusion(NON_CONFORMANT, hazards, unsettled)
    if unsettled or report.verdict.exit_code != 0:
        return Conclusion(NOT_ESTABLISHED, hazards, unsettled)
    return Conclusion(NO_HAZARD, hazards, unsettled)


def _rate_summary(report: RunReport) -> dict[str, str]:
    """Per rate control: its weakest must_block cell, as `k/n blocked on SURFACE (lower
    bound L)`."""
    weakest: dict[str, Any] = {}
    for cell in report.verdict.cells:
        if cell.expect != "must_block" or not cell.rate.n:
            continue
        found = weakest.get(cell.control)
        if found is None or cell.rate.low < found.rate.low:
            weakest[cell.control] = cell
    return {control: (f"{c.rate.k}/{c.rate.n} on {c.surface}/{c.family}, lower bound "
                      f"{c.rate.low:.3f} (threshold {c.gate.threshold:g})")
            for control, c in weakest.items()}


def clause_label(clause: str, lang: str) -> str:
    """`5(4)` as the report's language writes it."""
    number = clause.rsplit("(", maxsplit=1)[-1].rstrip(")")
    return TEXT[lang]["clause"].format(n=ZH_NUMERALS.get(number, number) if lang == "zh"
                                       else number)


def render_markdown(report: RunReport, lang: str = "zh") -> str:
    """The Article 6 report as Markdown, in `lang` (zh or en)."""
    if lang not in LANGS:
        raise ConfigError(f"--lang {lang!r}: expected one of {', '.join(LANGS)}")
    about = report.about
    return environment().get_template("assessment.md.j2").render(
        t=TEXT[lang], report=report, info=report.info, verdict=report.verdict,
        clauses=report.clauses(), about=[(key, about.get(key)) for key in ABOUT_FIELDS],
        other=about.get("other"), conclusion=conclusion(report), rates=_rate_summary(report),
        latencies=report.latencies(), automated=AUTOMATED,
        clause_label=lambda clause: clause_label(clause, lang),
        measured=[c for c in report.verdict.measured()])


def render_html(markdown: str, lang: str = "zh") -> str:
    """The Markdown report as one HTML page (raw HTML in the text is not rendered)."""
    import cmarkgfm  # noqa: PLC0415 (only this report needs it)

    body = Markup(cmarkgfm.github_flavored_markdown_to_html(markdown))
    return environment().get_template("assessment.html.j2").render(
        body=body, lang=lang, title=TEXT[lang]["title"])


def write_article6(report: RunReport, out_dir: Path, lang: str = "zh") -> list[Path]:
    """Write `assessment.md` and `assessment.html` in `out_dir`; returns their paths."""
    markdown = render_markdown(report, lang)
    out_dir = Path(out_dir)
    return [write_output(out_dir / MD_FILE, markdown.encode("utf-8")),
            write_output(out_dir / HTML_FILE, render_html(markdown, lang).encode("utf-8"))]
