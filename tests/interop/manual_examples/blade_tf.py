#!/usr/bin/env python
# The official manual's "Blade with TensorFlow compatibility" example (eas-prediction 0.36), copied as
# published, errors included: the 85680 values for shape [1, 360, 128] (46080) are the manual's.
# Changed, and only this:
#   - endpoint: read from env EAS_ENDPOINT (the manual: 'http://182848887922****.cn-shanghai.pai-eas.aliyuncs.com')
#   - token: read from env EAS_TOKEN and set with one added `client.set_token(TOKEN)` line
#     (the manual's example sets none; an empty token means none)
#   - loop count: env EAS_EXAMPLE_LOOPS, default 3, in the loop and the average (the manual: 10)
#   - added `import os` and the three settings above
# Indentation restored (the published page lost it). Not linted: it is kept as the manual wrote it.
import os
ENDPOINT = os.environ['EAS_ENDPOINT']
TOKEN = os.environ.get('EAS_TOKEN', '')
LOOPS = int(os.environ.get('EAS_EXAMPLE_LOOPS', '3'))
from eas_prediction import PredictClient
from eas_prediction.blade_tf_request import TFRequest # Blade-compatible TFRequest
if __name__ == '__main__':
    client = PredictClient(ENDPOINT, 'nlp_model_example')
    client.set_token(TOKEN)
    client.init()
    req = TFRequest(signature_name='predict_words')
    req.add_feed('input_data', [1, 360, 128], TFRequest.DT_FLOAT, [0.8] * 85680)
    req.add_feed('input_length', [1], TFRequest.DT_INT32, [187])
    req.add_feed('start_token', [1], TFRequest.DT_INT32, [104])
    req.add_fetch('output')
    import time
    st = time.time()
    timer = 0
    for x in range(0, LOOPS):
        resp = client.predict(req)
        timer += (time.time() - st)
        st = time.time()
        print(resp.get_tensor_shape('output'))
    print("average response time: %s s" % (timer / LOOPS))
