#!/usr/bin/env python
# The official manual's "VPC direct connection" example (eas-prediction 0.36), copied as published.
# Changed, and only this:
#   - endpoint: read from env EAS_ENDPOINT, the server that answers service discovery
#     (the manual: 'http://pai-eas-vpc.cn-hangzhou.aliyuncs.com')
#   - token: read from env EAS_TOKEN (the manual: a literal token; empty here means none)
#   - loop count: env EAS_EXAMPLE_LOOPS, default 3 (the manual: 1000000)
#   - added `import os` and the three settings above
# Indentation restored (the published page lost it). Not linted: it is kept as the manual wrote it.
import os
ENDPOINT = os.environ['EAS_ENDPOINT']
TOKEN = os.environ.get('EAS_TOKEN', '')
LOOPS = int(os.environ.get('EAS_EXAMPLE_LOOPS', '3'))
from eas_prediction import PredictClient
from eas_prediction import TFRequest
from eas_prediction import ENDPOINT_TYPE_DIRECT
if __name__ == '__main__':
    # Use the regional VPC endpoint instead of the service-specific endpoint
    client = PredictClient(ENDPOINT, 'mnist_saved_model_example')
    client.set_token(TOKEN)
    client.set_endpoint_type(ENDPOINT_TYPE_DIRECT)
    client.init()
    request = TFRequest('predict_images')
    request.add_feed('images', [1, 784], TFRequest.DT_FLOAT, [1] * 784)
    for x in range(0, LOOPS):
        resp = client.predict(request)
        print(resp)
