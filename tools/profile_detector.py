"""Where does a detector's inference time go?  Per-scope time of one traced call.

Run it with a combination's interpreter (it needs TensorFlow), on an export:

    .nox/bench-tf2-20-cpu/bin/python tools/profile_detector.py EXPORT_DIR [SIZE]

It loads the SavedModel in a TF1 session, runs the serving signature once to
warm up, once more with a full trace, and sums the op time by the top-level
name scope inside the model (backbone, decoder, head, detection generator...).
"""

from __future__ import annotations

import collections
import os
import sys


def main() -> int:
    import numpy as np
    import tensorflow as tf

    export = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    path = export if os.path.exists(os.path.join(export, "saved_model.pb")) else os.path.join(export, "saved_model")
    tf.compat.v1.disable_eager_execution()
    with tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        sig = meta.signature_def["serving_default"]
        feed_name = next(iter(sig.inputs.values())).name
        fetches = {k: v.name for k, v in sig.outputs.items()}
        img = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
        sess.run(fetches, {feed_name: img})
        opts = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        md = tf.compat.v1.RunMetadata()
        sess.run(fetches, {feed_name: img}, options=opts, run_metadata=md)
    by_scope: collections.Counter[str] = collections.Counter()
    by_op: collections.Counter[str] = collections.Counter()
    for dev in md.step_stats.dev_stats:
        for node in dev.node_stats:
            secs = node.all_end_rel_micros / 1e6
            parts = [p for p in node.node_name.split("/") if p != "StatefulPartitionedCall"]
            by_scope[parts[0] if parts else node.node_name] += secs
            label = node.timeline_label
            by_op[label.split("=")[-1].split("(")[0].strip() if "=" in label else node.node_name] += secs
    total = sum(by_scope.values())
    print(f"op time summed over all ops: {total:.3f} s (ops overlap across threads)")
    for scope, secs in by_scope.most_common(10):
        print(f"  scope {scope:40s} {secs:8.3f} s  {100 * secs / total:5.1f}%")
    for op, secs in by_op.most_common(8):
        print(f"  op    {op:40s} {secs:8.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
