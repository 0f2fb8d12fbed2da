// Package log owns one partition's on-disk data: a directory of segments in
// Apache Kafka's on-disk format. Each segment is a `.log` file of RecordBatch
// v2 batches stored exactly as produced (with base offset and partition leader
// epoch filled in), a sparse `.index` (relative offset -> file position) and a
// `.timeindex` (timestamp -> relative offset), all named by the segment's
// 20-digit base offset.
//
// The package validates batches without decompressing them (ValidateBatches),
// appends them (rolling segments by size, age and index fullness), reads whole
// batches by offset for fetches (with reference-counted file handles so a
// reader survives segment deletion), finds offsets by timestamp, makes data
// durable with group-committed fsyncs, and recovers after a crash by
// truncating the first invalid batch and everything after it. It deletes
// old segments for retention and compacts logs (cleaner.go: the latest
// record per key survives, at its original offset), swapping cleaned
// segments in crash-safely.
//
// It does not own partition semantics: high watermark, leader epochs,
// producer state, transactions and waiting fetches belong to the partition
// layer, which may keep its own files in the same directory (they are
// ignored here).
package log
