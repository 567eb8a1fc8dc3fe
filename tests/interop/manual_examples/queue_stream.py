#!/usr/bin/env python
# The official manual's "Queue service for data streaming" example (eas-prediction 0.36), copied as published.
# Changed, and only this:
#   - endpoint: read from env EAS_ENDPOINT (the manual: '182848887922****.cn-shanghai.pai-eas.aliyuncs.com')
#   - token: read from env EAS_TOKEN (the manual: a literal token; empty here means none)
#   - added `import os` for the two lines above
# The queue is the manual's 'test_group.qservice/sink': the sink of a queue service named
# 'test_group.qservice', which the emulator serves for this example.
# Indentation restored (the published page lost it). Not linted: it is kept as the manual wrote it.
import os
ENDPOINT = os.environ['EAS_ENDPOINT']
TOKEN = os.environ.get('EAS_TOKEN', '')
from eas_prediction import QueueClient
import threading
if __name__ == '__main__':
    endpoint = ENDPOINT
    queue_name = 'test_group.qservice/sink'
    token = TOKEN
    queue = QueueClient(endpoint, queue_name)
    queue.set_token(token)
    queue.init()
    queue.set_timeout(30000)
    # Clear the queue before starting
    attributes = queue.attributes()
    if 'stream.lastEntry' in attributes:
        queue.truncate(int(attributes['stream.lastEntry']) + 1)
    count = 100
    def send_thread():
        for i in range(count):
            index, request_id = queue.put('[{}]')
            print('send: ', i, index, request_id)
    def watch_thread():
        # window=5 limits the server to pushing at most 5 unacknowledged records at a time
        watcher = queue.watch(0, 5, auto_commit=True)
        i = 0
        for x in watcher.run():
            print('recv: ', i, x.index, x.tags['requestId'])
            i += 1
            if i == count:
                break
        watcher.close()
    thread1 = threading.Thread(target=watch_thread)
    thread2 = threading.Thread(target=send_thread)
    thread1.start()
    thread2.start()
    thread1.join()
