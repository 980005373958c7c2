"""Every Beam metric the job reports: its namespace and each metric's name, spelled once here,
for the transforms that count and the launcher's summary that reads them
(:func:`pipeline.main.summarize_metrics`): a name spelled apart on either side read 0.
docs/pipeline.md ("Metrics") says what each counts."""

__all__ = ["METRICS_NAMESPACE", "COUNTERS", "DISTRIBUTIONS", "IMAGES_OK", "IMAGES_FAILED",
           "IMAGES_SKIPPED", "BYTES_IN", "BYTES_OUT", "BYTES_READ", "INPUTS_MATCHED",
           "INPUTS_MISSED_BY_CASE", "MODEL_LOADS", "NAMES_SET_APART", "NAMED_OTHERWISE",
           "IMAGES_REPLACED", "IMAGES_FAILED_AGAIN", "OUTPUTS_UNWRITTEN", "OUTPUTS_DAMAGED",
           "IMAGES_UNCHANGED_BY_SHA256", "SKIPPED_UNRECORDED", "UNRECORDED_NOT_ADOPTED",
           "SKIPPED_FAILED_BEFORE", "EARLIER_PARTS_UNREADABLE", "OUTPUTS_LARGER_THAN_INPUT",
           "QUALITY_TARGET_MISSED", "INPUTS_NOT_IMAGES", "INPUTS_NAMED_NOT_UTF8",
           "DEAD_LETTERS_UNWRITTEN", "COMPRESS_MS", "MODEL_LOAD_MS", "WORKER_PEAK_RSS_MB"]

#: Namespace of every Beam metric the pipeline reports.
METRICS_NAMESPACE = "semantic_compress"

# counters: the images and their bytes
IMAGES_OK = "images_ok"
IMAGES_FAILED = "images_failed"
IMAGES_SKIPPED = "images_skipped"
BYTES_IN = "bytes_in"
BYTES_OUT = "bytes_out"
BYTES_READ = "bytes_read"
# counters: the inputs matched and named
INPUTS_MATCHED = "inputs_matched"
INPUTS_MISSED_BY_CASE = "inputs_missed_by_case"
NAMES_SET_APART = "names_set_apart"
NAMED_OTHERWISE = "inputs_named_otherwise"
INPUTS_NOT_IMAGES = "inputs_not_images"
INPUTS_NAMED_NOT_UTF8 = "inputs_named_not_utf8"
# counters: reruns against earlier runs' outputs and manifests
IMAGES_REPLACED = "images_replaced"
IMAGES_FAILED_AGAIN = "images_failed_again"
IMAGES_UNCHANGED_BY_SHA256 = "images_unchanged_by_sha256"
SKIPPED_UNRECORDED = "skipped_unrecorded"
UNRECORDED_NOT_ADOPTED = "unrecorded_outputs_not_adopted"
SKIPPED_FAILED_BEFORE = "skipped_failed_before"
OUTPUTS_DAMAGED = "outputs_damaged"
EARLIER_PARTS_UNREADABLE = "earlier_parts_unreadable"
# counters: what was written, and what could not be
OUTPUTS_UNWRITTEN = "outputs_unwritten"
DEAD_LETTERS_UNWRITTEN = "dead_letters_unwritten"
OUTPUTS_LARGER_THAN_INPUT = "outputs_larger_than_input"
QUALITY_TARGET_MISSED = "quality_target_missed"
MODEL_LOADS = "model_loads"
# distributions
COMPRESS_MS = "compress_ms"
MODEL_LOAD_MS = "model_load_ms"
WORKER_PEAK_RSS_MB = "worker_peak_rss_mb"

#: Every counter's and every distribution's name.
COUNTERS = (IMAGES_OK, IMAGES_FAILED, IMAGES_SKIPPED, BYTES_IN, BYTES_OUT, BYTES_READ,
            INPUTS_MATCHED, INPUTS_MISSED_BY_CASE, NAMES_SET_APART, NAMED_OTHERWISE,
            INPUTS_NOT_IMAGES, INPUTS_NAMED_NOT_UTF8, IMAGES_REPLACED, IMAGES_FAILED_AGAIN,
            IMAGES_UNCHANGED_BY_SHA256, SKIPPED_UNRECORDED, UNRECORDED_NOT_ADOPTED,
            SKIPPED_FAILED_BEFORE, OUTPUTS_DAMAGED, EARLIER_PARTS_UNREADABLE, OUTPUTS_UNWRITTEN,
            DEAD_LETTERS_UNWRITTEN, OUTPUTS_LARGER_THAN_INPUT, QUALITY_TARGET_MISSED,
            MODEL_LOADS)
DISTRIBUTIONS = (COMPRESS_MS, MODEL_LOAD_MS, WORKER_PEAK_RSS_MB)
