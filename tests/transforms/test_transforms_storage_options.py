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


def test_storage_options_alone_give_beams_s3_options():
    """Cloud review 40: an endpoint given only in --storage_options sent the manifest to AWS."""
    from apache_beam.options.pipeline_options import S3Options

    from transforms.storage_options import fill_pipeline_options

    opts = PipelineOptions([])
    assert fill_pipeline_options(opts, {"s3a": {
        "key": "k", "secret": "s", "use_ssl": False,
        "client_kwargs": {"endpoint_url": "http://h:9", "region_name": "eu-west-1"}}}) is None
    s3 = opts.view_as(S3Options)
    assert (s3.s3_endpoint_url, s3.s3_access_key_id, s3.s3_secret_access_key,
            s3.s3_region_name, s3.s3_disable_ssl) == ("http://h:9", "k", "s", "eu-west-1", True)
    assert storage_options_from_pipeline_options(opts)["s3"]["endpoint_url"] == "http://h:9"
    # the same value twice is fine; two values are refused, a secret not shown
    given = PipelineOptions(["--s3_endpoint_url=http://h:9", "--s3_secret_access_key=a"])
    assert fill_pipeline_options(given, {"s3": {"endpoint_url": "http://h:9"}}) is None
    problem = fill_pipeline_options(given, {"s3": {"secret": "b"}})
    assert problem.startswith("--s3_secret_access_key and --storage_options' s3 secret "
                              "(hidden) differ") and "'b'" not in problem
    # an endpoint with a final '/' is the same; on Dataflow (secrets=False) no secret is
    # copied into the options its console shows (diff review 40)
    assert fill_pipeline_options(given, {"s3": {"endpoint_url": "http://h:9/"}}) is None
    console = PipelineOptions([])
    assert fill_pipeline_options(console, {"s3": {"key": "k", "secret": "s", "token": "t"}},
                                 secrets=False) is None
    s3 = console.view_as(S3Options)
    assert (s3.s3_access_key_id, s3.s3_secret_access_key, s3.s3_session_token) == \
        (None, None, None)
    untouched = PipelineOptions([])
    assert fill_pipeline_options(untouched, {"gs": {"token": "anon"}}) is None
    assert untouched.view_as(S3Options).s3_endpoint_url is None
