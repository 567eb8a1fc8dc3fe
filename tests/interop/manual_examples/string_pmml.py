#!/usr/bin/env python
# The official manual's "String input and output" example (eas-prediction 0.36), copied as published.
# Changed, and only this:
#   - endpoint: read from env EAS_ENDPOINT (the manual: 'http://182848887922****.cn-shanghai.pai-eas.aliyuncs.com')
#   - token: read from env EAS_TOKEN (the manual: a literal token; empty here means none)
#   - loop count: env EAS_EXAMPLE_LOOPS, default 3 (the manual: 1000000)
#   - added `import os` and the three settings above
# Indentation restored (the published page lost it). Not linted: it is kept as the manual wrote it.
import os
ENDPOINT = os.environ['EAS_ENDPOINT']
TOKEN = os.environ.get('EAS_TOKEN', '')
LOOPS = int(os.environ.get('EAS_EXAMPLE_LOOPS', '3'))
from eas_prediction import PredictClient
from eas_prediction import StringRequest
if __name__ == '__main__':
    client = PredictClient(ENDPOINT, 'scorecard_pmml_example')
    client.set_token(TOKEN)
    client.init()
    request = StringRequest('[{"fea1": 1, "fea2": 2}]')
    for x in range(0, LOOPS):
        resp = client.predict(request)
        print(resp)
