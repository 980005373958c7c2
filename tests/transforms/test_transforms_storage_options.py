"""transforms/storage_options.py: Beam's --s3_* flags become fsspec options."""
from apache_beam.options.pipeline_options import PipelineOptions

from compress_core.storage import merge_storage_options
from transforms.storage_options import storage_options_from_pipeline_options


def test_storage_options_from_beam_s3_flags():
    opts = PipelineOptions(["--s3_endpoint_url=http://127.0.0.1:9", "--s3_access_key_id=k",
                            "--s3_secret_access_key=s", "--s3_region_name=eu-west-1"])
    got = storage_options_from_pipeline_options(opts)
    assert got == {"s3": {"endpoint_url": "http://127.0.0.1:9", "key": "k", "secret": "s",
                          "client_kwargs": {"region_name": "eu-west-1"}}}
    assert storage_options_from_pipeline_options(PipelineOptions([])) == {}
    merged = merge_storage_options(got, {"s3a": {"key": "k2"}, "gcs": {"token": "anon"}})
    assert merged["s3"]["key"] == "k2" and merged["gs"] == {"token": "anon"}
