"""Rule validation in-process: 50 selected clauses, 100 rules (quality.md: P95 < 5 ms).

A synthetic template with 60 optional slots (50 selected), 100 rules of all
five types and 20 interview questions; measures ``rules.validate`` alone and
the whole ``evaluate_contract`` (interview, assembly, rules, document).

    .venv/bin/python -m bench.engine [--runs 2000]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

from bench.common import summary_ms, write_results
from servanda.engine import interview, rules
from servanda.engine.assembly import assemble
from servanda.engine.evaluate import ClauseVersion, evaluate_contract
from servanda.engine.shapes import Parameter, Question, Structure

TARGET_P95_MS = 5.0
CLAUSES, SELECTED, RULES, QUESTIONS = 60, 50, 100, 20


def build(
    seed: int = 5,
) -> tuple[Structure, list[Question], dict[uuid.UUID, ClauseVersion], dict[str, object], dict[str, object]]:
    rng = random.Random(seed)
    ids = [uuid.UUID(int=i + 1) for i in range(CLAUSES)]
    questions = [
        Question.model_validate(
            {
                "key": f"q{i}",
                "text": f"Frage {i}?",
                "type": "number",
                "required": True,
                "parameterKeys": [f"p{i}"],
            }
        )
        for i in range(QUESTIONS)
    ]
    rule_lists: dict[uuid.UUID, list[dict[str, object]]] = {c: [] for c in ids}
    kinds = ["requires", "incompatible_with", "forbids", "scoped_to", "requires_answer"]
    for n in range(RULES):
        source, target = rng.sample(ids, 2)
        kind = kinds[n % len(kinds)]
        rule: dict[str, object] = {
            "type": kind,
            "severity": rng.choice(["hard", "soft"]),
            "message": f"Regel {n}",
        }
        if kind in ("requires", "incompatible_with", "forbids"):
            rule["targetClauseIds"] = [str(target)]
        elif kind == "scoped_to":
            rule["jurisdictions"] = ["DE", "AT"]
        else:
            rule["condition"] = {"question": f"q{n % QUESTIONS}", "operator": "greater_than", "value": 5}
        rule_lists[source].append(rule)
    from pydantic import TypeAdapter

    from servanda.engine.shapes import Rule

    adapter = TypeAdapter(list[Rule])
    clauses = {
        c: ClauseVersion(
            c,
            f"Klausel {i}",
            f"Text {i} mit {{{{p{i % QUESTIONS}}}}}.\n\nZweiter Absatz.",
            {f"p{i % QUESTIONS}": Parameter(type="number", label="p")},
            adapter.validate_python(rule_lists[c]),
        )
        for i, c in enumerate(ids)
    }
    structure = Structure.model_validate(
        {
            "sections": [
                {
                    "id": f"s{k}",
                    "title": f"Teil {k}",
                    "slots": [
                        {
                            "id": f"slot{i}",
                            "clauseId": str(ids[i]),
                            "type": "optional",
                            "defaultSelected": True,
                        }
                        for i in range(k * 10, k * 10 + 10)
                    ],
                }
                for k in range(CLAUSES // 10)
            ]
        }
    )
    selected: dict[str, object] = {f"slot{i}": None for i in range(SELECTED, CLAUSES)}
    answers: dict[str, object] = {f"q{i}": rng.randint(0, 10) for i in range(QUESTIONS)}
    return structure, questions, clauses, answers, selected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    structure, questions, clauses, answers, selected = build()
    state = interview.evaluate(questions, answers)
    assembly = assemble(structure, selected, state)
    assert len(assembly.clause_ids) == SELECTED
    pinned = {cid: rules.pin(structure, cid, c.title, c.rules) for cid, c in clauses.items()}
    validate_times, evaluate_times = [], []
    violations = 0
    for i in range(args.runs + 100):
        started = time.perf_counter()
        validation = rules.validate(
            pinned=pinned,
            structure=structure,
            selected=assembly.clause_ids,
            state=state,
            jurisdiction="CH",
            dismissed=(),
        )
        middle = time.perf_counter()
        evaluate_contract(structure, questions, clauses, answers, selected, "CH")
        done = time.perf_counter()
        if i >= 100:
            validate_times.append(middle - started)
            evaluate_times.append(done - middle)
        violations = len(validation.violations)
    results: dict[str, object] = {
        "target_p95_ms": TARGET_P95_MS,
        "selected_clauses": SELECTED,
        "rules": RULES,
        "violations": violations,
    }
    print(
        f"Engine in-process, {SELECTED} selected clauses of {CLAUSES}, {RULES} rules, {violations} violations"
    )
    for name, samples in (("rules.validate", validate_times), ("evaluate_contract (all)", evaluate_times)):
        stats = summary_ms(samples)
        verdict = "OK" if stats["p95_ms"] < TARGET_P95_MS else "MISSED"
        print(
            f"  {name:<26} P50 {stats['p50_ms']:.3f} ms  P95 {stats['p95_ms']:.3f} ms "
            f"(target < {TARGET_P95_MS} ms) {verdict}"
        )
        results[name] = {**stats, "verdict": verdict}
    print(f"results: {write_results('engine', results)}")


if __name__ == "__main__":
    main()
