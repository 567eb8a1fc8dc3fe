# The official manual's "Quick start" example (eas-prediction 0.36), copied as published.
# Changed, and only this:
#   - endpoint: read from env EAS_ENDPOINT (the manual: 'http://182848887922****.cn-shanghai.pai-eas.aliyuncs.com')
#   - token: read from env EAS_TOKEN (the manual: a literal token; empty here means none)
#   - added `import os` for the two lines above
# Indentation restored (the published page lost it). Not linted: it is kept as the manual wrote it.
import os
ENDPOINT = os.environ['EAS_ENDPOINT']
TOKEN = os.environ.get('EAS_TOKEN', '')
from eas_prediction import PredictClient
from eas_prediction import StringRequest
client = PredictClient(ENDPOINT, 'scorecard_pmml_example')
client.set_token(TOKEN)
client.init()
request = StringRequest('[{"fea1": 1, "fea2": 2}]')
resp = client.predict(request)
print(resp)
