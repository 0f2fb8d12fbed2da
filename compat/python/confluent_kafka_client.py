"""confluent-kafka (Debian python3-confluent-kafka, librdkafka) for the
compatibility suite; see compat_common.py for the protocol."""

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from compat_common import main, record_in, record_out


def version():
    return "%s (librdkafka %s)" % (confluent_kafka.version()[0], confluent_kafka.libversion()[0])


def wait_futures(futures, deadline):
    for f in futures.values():
        f.result(timeout=deadline.left())


def create_topic(req, deadline):
    admin = AdminClient({"bootstrap.servers": req["bootstrap"]})
    topic = NewTopic(req["topic"], num_partitions=req["partitions"], replication_factor=1)
    wait_futures(admin.create_topics([topic], request_timeout=deadline.left()), deadline)


def topic_partitions(req, deadline):
    admin = AdminClient({"bootstrap.servers": req["bootstrap"]})
    md = admin.list_topics(topic=req["topic"], timeout=deadline.left())
    t = md.topics.get(req["topic"])
    if t is None:
        raise Exception("topic not in metadata")
    if t.error is not None:
        raise KafkaException(t.error)
    return {"partitions": len(t.partitions)}


def send(producer, topic, partition, records, deadline):
    """Produces records and waits for every delivery report."""
    errors, delivered = [], [0]

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered[0] += 1

    for r in records:
        key, value, headers, ts = record_in(r)
        kwargs = {"key": key, "value": value, "partition": partition, "on_delivery": on_delivery}
        if headers:
            kwargs["headers"] = headers
        if ts:
            kwargs["timestamp"] = ts
        producer.produce(topic, **kwargs)
    left = producer.flush(deadline.left())
    if errors:
        raise KafkaException(errors[0])
    if left:
        raise Exception("%d records still undelivered at the deadline" % left)
    return delivered[0]


def produce(req, deadline):
    p = Producer({
        "bootstrap.servers": req["bootstrap"],
        "acks": "all",
        "compression.codec": req["codec"],
        "enable.idempotence": bool(req["idempotent"]),
        "linger.ms": 20,
    })
    return {"delivered": send(p, req["topic"], req["partition"], req["records"], deadline)}


def poll_records(consumer, count, deadline):
    out, last_error = [], None
    while len(out) < count:
        if deadline.passed():
            raise Exception("got %d of %d records before the deadline (last error: %s)" % (len(out), count, last_error))
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().fatal():
                raise KafkaException(msg.error())
            last_error = msg.error()
            continue
        out.append(record_out(msg.key(), msg.value(), msg.headers(), msg.timestamp()[1], msg.partition(), msg.offset()))
    return out


def consume(req, deadline):
    c = Consumer({
        "bootstrap.servers": req["bootstrap"],
        "group.id": "compat.python-confluent-kafka.assign",  # required; assign() uses no group
        "enable.auto.commit": False,
        "isolation.level": "read_committed" if req["read_committed"] else "read_uncommitted",
    })
    try:
        c.assign([TopicPartition(req["topic"], req["partition"], req["offset"])])
        return {"records": poll_records(c, req["count"], deadline)}
    finally:
        c.close()


def group_consume(req, deadline):
    c = Consumer({
        "bootstrap.servers": req["bootstrap"],
        "group.id": req["group"],
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    c.subscribe([req["topic"]])
    try:
        out = poll_records(c, req["count"], deadline)
        c.commit(asynchronous=False)
    finally:
        c.close()  # leaves the group
    return {"records": out}


def txn_produce(req, deadline):
    p = Producer({"bootstrap.servers": req["bootstrap"], "transactional.id": req["transactional_id"]})
    p.init_transactions(deadline.left())
    p.begin_transaction()
    send(p, req["topic"], req["partition"], req["aborted"], deadline)
    p.abort_transaction(deadline.left())
    p.begin_transaction()
    send(p, req["topic"], req["partition"], req["committed"], deadline)
    p.commit_transaction(deadline.left())


def describe_config(req, deadline):
    admin = AdminClient({"bootstrap.servers": req["bootstrap"]})
    futures = admin.describe_configs([ConfigResource("topic", req["topic"])], request_timeout=deadline.left())
    for f in futures.values():
        entries = f.result(timeout=deadline.left())
        if req["key"] in entries:
            return {"value": entries[req["key"]].value}
    return {}


def alter_config(req, deadline):
    # confluent-kafka 1.x has only the legacy (non-incremental) AlterConfigs.
    admin = AdminClient({"bootstrap.servers": req["bootstrap"]})
    res = ConfigResource("topic", req["topic"], set_config={req["key"]: req["value"]})
    wait_futures(admin.alter_configs([res], request_timeout=deadline.left()), deadline)


if __name__ == "__main__":
    main({
        "create_topic": create_topic,
        "topic_partitions": topic_partitions,
        "produce": produce,
        "consume": consume,
        "group_consume": group_consume,
        "txn_produce": txn_produce,
        "describe_config": describe_config,
        "alter_config": alter_config,
    }, version)
