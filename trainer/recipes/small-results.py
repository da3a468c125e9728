#!/usr/bin/env python3
"""Assembles runs/eval-*/summary.json into the Markdown tables of
docs/results.md (printed to stdout)."""
import json
import sys

names = sys.argv[1:] or ["sft", "rl-a", "rl-b", "rl-c"]
labels = {"sft": "SFT base", "rl-a": "RL (a) edit reward only", "rl-b": "RL (b) edit + pixel",
          "rl-c": "RL (c) CoCoEdit: edit + pixel + regularizer", "rl-d": "RL (d) (b) with Flow-GRPO"}
cols = ["nonedit_psnr", "nonedit_ssim", "edit_psnr", "edit_ssim", "reward_edit", "success_rate"]
data = {}
for n in names:
    try:
        s = json.load(open(f"runs/eval-{n}/summary.json"))
    except OSError:
        continue
    data[n] = next(iter(s.values()))


def table(group_prefix):
    groups = sorted({g for d in data.values() for g in d if g == group_prefix or g.startswith(group_prefix)})
    out = "| group | model | " + " | ".join(cols) + " |\n|---|---|" + "---|" * len(cols) + "\n"
    for g in groups:
        for n, d in data.items():
            if g in d:
                out += f"| {g} | {labels.get(n, n)} | " + " | ".join(
                    f"{d[g][c]:.3f}" if c in d[g] else "n/a" for c in cols) + " |\n"
    return out


print("### Overall\n")
print(table("all"))
print("### Per edit type\n")
print(table("type:"))
print("### Per language\n")
print(table("lang:"))

# The training-stream reward of each RL arm: mean of its first and last five steps.
arms = [n for n in names if n.startswith("rl-")]
rows = []
for n in arms:
    try:
        steps = [json.loads(line) for line in open(f"runs/small-{n}/metrics-rl.jsonl") if line.strip()]
    except OSError:
        continue
    if len(steps) >= 10:
        first = sum(s["reward"] for s in steps[:5]) / 5
        last = sum(s["reward"] for s in steps[-5:]) / 5
        rows.append(f"| ({n[3:]}) | {len(steps)} | {first:.3f} | {last:.3f} |")
if rows:
    print("### RL reward on the training stream\n")
    print("| arm | steps | first 5 | last 5 |\n|---|---|---|---|")
    print("\n".join(rows))
