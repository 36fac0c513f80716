"""Turn a trained keras_ssl run into a TF Serving model directory."""
