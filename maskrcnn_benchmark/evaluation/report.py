"""The printed evaluation block: SGB's lines, labels and order first, our extra metrics after.

A value no image qualifies for (e.g. zR without zero-shot GT) prints as ``n/a`` where SGB
prints ``nan``; the JSON holds ``null`` for it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_results"]

RULE = "=" * 100 + "\n"
DETAILS_OPEN = "----------------------- Details ------------------------\n"
DETAILS_CLOSE = "--------------------------------------------------------\n"


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _line(label: str, values: dict, mode: str, kind: str) -> str:
    # label is pre-padded exactly as SGB's format strings ('    R', ' ng-R', '   zR', ...)
    body = "".join(f"{label} @ {k}: {_value(v)}; " for k, v in values.items())
    return f"SGG eval: {body} for mode={mode}, type={kind}.\n"


def _details(names: Sequence[str], values: Sequence[float]) -> str:
    return DETAILS_OPEN + "".join(f"({n}:{v:.4f}) " for n, v in zip(names, values)) + "\n" + (
        DETAILS_CLOSE
    )


def _structure_lines(metrics: dict, mode: str) -> str:
    """The synthetic benchmark's lines (docs/EVALUATION.md, "Structure metrics"); "" without."""
    text = ""
    if metrics.get("joint_decode"):
        text += ("Relations re-decoded under the synthetic benchmark's scene rules "
                 "(TEST.RELATION.JOINT_DECODE)\n")
    if "ctxR" not in metrics:
        return text
    info = metrics["structure"]
    context = (f"{info['num_context_relations']} context-decided relations, "
               f"{info['num_images_with_context']} images")
    text += _line("   ctxR", metrics["ctxR"], mode, f"Context-decided Recall, {context}")
    text += _line("ng-ctxR", metrics["ng-ctxR"], mode,
                  "No Graph Constraint Context-decided Recall")
    text += _line("   ctx-mR", metrics["ctx-mR"], mode,
                  "Context-decided Mean Recall (predicates that occur)")
    text += _line("ng-ctx-mR", metrics["ng-ctx-mR"], mode,
                  "No Graph Constraint Context-decided Mean Recall")
    text += _line("    viol", metrics["viol"], mode, "Rule violations per image of the top-K graph")
    text += _line("viol-any", metrics["viol-any"], mode, "Images whose top-K graph breaks a rule")
    return text


def format_results(metrics: dict, predicate_names: Sequence[str]) -> str:
    """The log block for a metrics dict of ``SGGEvaluator`` (predicate names without background)."""
    mode = metrics["mode"]
    detail_k = "100" if "100" in metrics["R"] else str(max(int(k) for k in metrics["R"]))
    detection = metrics.get("detection", {})
    text = "\n" + RULE + f"Detection evaluation mAp={_value(detection.get('mAP@0.5'))}\n" + RULE
    text += _line("    R", metrics["R"], mode, "Recall(Main)")
    text += _line(" ng-R", metrics["ngR"], mode, "No Graph Constraint Recall(Main)")
    groups = metrics["triplet_groups"]
    if "zero-shot" in groups:  # SGB always prints these two lines; we do when zero-shot is on
        text += _line("   zR", groups["zero-shot"]["R"], mode, "Zero Shot Recall")
        text += _line("ng-zR", groups["zero-shot"]["ngR"], mode,
                      "No Graph Constraint Zero Shot Recall")
    per_predicate = metrics["per_predicate"]
    text += _line("   mR", metrics["mR"], mode, "Mean Recall")
    text += _details(predicate_names, per_predicate["R"][detail_k])
    text += _line("ng-mR", metrics["ng-mR"], mode, "No Graph Constraint Mean Recall")
    text += _details(predicate_names, per_predicate["ngR"][detail_k])
    if metrics["A"] is not None:
        text += _line("    A", metrics["A"], mode, "TopK Accuracy")
    text += RULE
    extra = ""
    for group in groups.values():
        if group["kind"] == "zero-shot":
            continue
        label = "  fsR" if group["kind"] == "few-shot bin" else "   kR"
        extra += _line(label, group["R"], mode, f"{group['description']}, "
                       f"{group['num_images']} images")
    extra += _structure_lines(metrics, mode)
    extra += f"Detection evaluation AP@[.5:.95]={_value(detection.get('mAP@[.5:.95]'))}\n"
    return text + "SGG-EBM extra metrics (not in SGB's log):\n" + extra + RULE
