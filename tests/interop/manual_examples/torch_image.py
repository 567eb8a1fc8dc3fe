#!/usr/bin/env python
# The official manual's "PyTorch tensor input and output" example (eas-prediction 0.36), copied as published.
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
from eas_prediction import TorchRequest
if __name__ == '__main__':
    client = PredictClient(ENDPOINT, 'pytorch_gpu_wl')
    client.set_token(TOKEN)
    client.init()
    req = TorchRequest()
    # add_feed takes a flat 1D array; shape [1, 3, 224, 224] describes a single 224x224 RGB image
    req.add_feed(0, [1, 3, 224, 224], TorchRequest.DT_FLOAT, [1] * 150528)
    # req.add_fetch(0) # Uncomment to return only tensor at index 0
    import time
    st = time.time()
    timer = 0
    for x in range(0, LOOPS):
        resp = client.predict(req)
        timer += (time.time() - st)
        st = time.time()
        print(resp.get_tensor_shape(0))
    print("average response time: %s s" % (timer / LOOPS))
