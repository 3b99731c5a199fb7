"""The peer side of `cargo bench --bench rediscovery`: for every log the bench wrote (a CSV of
case, activity, order, and our discovered tree in the usual notation), pm4py's Inductive
Miner - infrequent (noise 0.2) discovers its own tree, and pm4py's token-based replay scores
both trees on the same log. Prints one JSON object per log."""
import json, sys, time, glob, os, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import pm4py
from pm4py.objects.process_tree.utils.generic import parse

def score(df, tree):
    net, im, fm = pm4py.convert_to_petri_net(tree)
    fit = pm4py.fitness_token_based_replay(df, net, im, fm)
    prec = pm4py.precision_token_based_replay(df, net, im, fm)
    return {"fitness": fit["log_fitness"], "fitting": fit["perc_fit_traces"] / 100.0, "precision": prec}

for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.csv"))):
    df = pd.read_csv(path, dtype={"case": str, "activity": str})
    df["time"] = pd.to_datetime(df["order"], unit="s")
    df = pm4py.format_dataframe(df, case_id="case", activity_key="activity", timestamp_key="time")
    with open(path[:-4] + ".tree") as f:
        ours = parse(f.read().strip())
    t = time.perf_counter()
    theirs = pm4py.discover_process_tree_inductive(df, noise_threshold=0.2)
    secs = time.perf_counter() - t
    out = {"log": os.path.basename(path)[:-4], "pm4py_secs": secs,
           "pm4py": score(df, theirs), "ours": score(df, ours), "pm4py_tree": str(theirs)}
    print(json.dumps(out), flush=True)
