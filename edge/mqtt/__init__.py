"""MQTT: the anonymous count contract (topics, payloads, Home Assistant discovery) and the sink.

`client.MqttSink` is the only module that talks to a broker; `embedded` starts a broker
inside the demo process. See broker_config/CONTRACT.md for the published contract.
"""
