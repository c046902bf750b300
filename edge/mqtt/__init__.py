"""MQTT: the anonymous count contract (topics, payloads, Home Assistant discovery) and the sink.

`client.MqttSink` is the sink; `connection.Connection` is the only part that talks to a
broker. See broker_config/CONTRACT.md for the published contract.
"""
