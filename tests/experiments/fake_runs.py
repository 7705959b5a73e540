"""Hand-written run folders of tools/run_experiments.py for the experiments tests."""

import json

KS = ("20", "50", "100")


def eval_results(recall: float, structure: bool = False) -> dict:
    """A hand-written eval_results.json: every K the same value; with the structure families
    (context recall = recall - 0.1, 1.5 violations per image, 25 % of images with any)."""
    at_k = {name: {k: value for k in KS}
            for name, value in (("R", recall), ("ngR", recall), ("mR", recall / 2),
                                ("ng-mR", recall / 2))}
    if structure:
        at_k.update({name: {k: value for k in KS}
                     for name, value in (("ctxR", recall - 0.1), ("ctx-mR", recall / 2 - 0.1),
                                         ("ng-ctxR", recall), ("ng-ctx-mR", recall / 2),
                                         ("viol", 1.5), ("viol-any", 0.25))})
    return {"mode": "predcls", **at_k}


def write_run(root, name: str, results: dict | str) -> None:
    """<root>/<name>/inference/test/eval_results.json."""
    folder = root / name / "inference" / "test"
    folder.mkdir(parents=True)
    text = results if isinstance(results, str) else json.dumps(results)
    (folder / "eval_results.json").write_text(text)
