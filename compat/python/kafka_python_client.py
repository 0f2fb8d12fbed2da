"""kafka-python (Debian python3-kafka, pure Python; codecs from
python3-zstandard, python3-snappy, python3-lz4) for the compatibility suite;
see compat_common.py for the protocol."""

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import for_code

from compat_common import main, record_in, record_out


def version():
    return kafka.__version__


def ms(deadline):
    return max(1000, int(deadline.left() * 1000))


def check(error_code, what):
    if error_code != 0:
        raise for_code(error_code)("%s (error code %d)" % (what, error_code))


def admin_client(req, deadline):
    return KafkaAdminClient(bootstrap_servers=[req["bootstrap"]], request_timeout_ms=ms(deadline))


def create_topic(req, deadline):
    admin = admin_client(req, deadline)
    try:
        resp = admin.create_topics([NewTopic(req["topic"], req["partitions"], 1)], timeout_ms=ms(deadline))
        for err in resp.topic_errors:
            check(err[1], "create topic %s" % err[0])
    finally:
        admin.close()


def topic_partitions(req, deadline):
    c = KafkaConsumer(bootstrap_servers=[req["bootstrap"]], request_timeout_ms=ms(deadline))
    try:
        parts = c.partitions_for_topic(req["topic"])
        if parts is None:
            raise Exception("topic not in metadata")
        return {"partitions": len(parts)}
    finally:
        c.close()


def send(producer, topic, partition, records, deadline):
    futures = []
    for r in records:
        key, value, headers, ts = record_in(r)
        futures.append(producer.send(topic, value=value, key=key, headers=headers, partition=partition, timestamp_ms=ts))
    producer.flush(timeout=deadline.left())
    for f in futures:
        f.get(timeout=deadline.left())  # raises the delivery error
    return len(futures)


def produce(req, deadline):
    codec = None if req["codec"] == "none" else req["codec"]
    p = KafkaProducer(bootstrap_servers=[req["bootstrap"]], acks="all", compression_type=codec,
                      linger_ms=20, request_timeout_ms=ms(deadline), max_block_ms=ms(deadline))
    try:
        return {"delivered": send(p, req["topic"], req["partition"], req["records"], deadline)}
    finally:
        p.close(timeout=deadline.left())


def poll_records(consumer, count, deadline):
    out = []
    while len(out) < count:
        if deadline.passed():
            raise Exception("got %d of %d records before the deadline" % (len(out), count))
        for recs in consumer.poll(timeout_ms=200, max_records=count - len(out)).values():
            for m in recs:
                out.append(record_out(m.key, m.value, m.headers, m.timestamp, m.partition, m.offset))
    return out


def consume(req, deadline):
    if req["read_committed"]:
        raise Exception("kafka-python 2.0 has no read_committed isolation level")
    c = KafkaConsumer(bootstrap_servers=[req["bootstrap"]], enable_auto_commit=False,
                      request_timeout_ms=ms(deadline))
    try:
        tp = TopicPartition(req["topic"], req["partition"])
        c.assign([tp])
        c.seek(tp, req["offset"])
        return {"records": poll_records(c, req["count"], deadline)}
    finally:
        c.close()


def group_consume(req, deadline):
    c = KafkaConsumer(req["topic"], bootstrap_servers=[req["bootstrap"]], group_id=req["group"],
                      enable_auto_commit=False, auto_offset_reset="earliest", request_timeout_ms=ms(deadline))
    try:
        out = poll_records(c, req["count"], deadline)
        c.commit()  # synchronous
    finally:
        c.close()  # leaves the group
    return {"records": out}


def describe_config(req, deadline):
    admin = admin_client(req, deadline)
    try:
        for resp in admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, req["topic"])]):
            for res in resp.resources:
                check(res[0], "describe configs of %s: %s" % (res[3], res[1]))
                for entry in res[4]:
                    if entry[0] == req["key"]:
                        return {"value": entry[1]}
        return {}
    finally:
        admin.close()


def alter_config(req, deadline):
    admin = admin_client(req, deadline)
    try:
        res = ConfigResource(ConfigResourceType.TOPIC, req["topic"], configs={req["key"]: req["value"]})
        resp = admin.alter_configs([res])
        for r in resp.resources:
            check(r[0], "alter configs of %s: %s" % (r[3], r[1]))
    finally:
        admin.close()


if __name__ == "__main__":
    main({
        "create_topic": create_topic,
        "topic_partitions": topic_partitions,
        "produce": produce,
        "consume": consume,
        "group_consume": group_consume,
        "describe_config": describe_config,
        "alter_config": alter_config,
    }, version)
