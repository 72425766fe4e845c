//! Criterion benches of the engine's stages on a real capture, each alone so a change in
//! one shows up in its own figure: walking records, decoding headers, updating the flow
//! table, and the whole scan.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowmine_benches::{decoded_packets, sample_capture};
use flowmine_core::capture::{Event, Reader};
use flowmine_core::flow::{FlowBatch, FlowConfig, FlowTable};
use flowmine_core::wire::decode::decode;

fn stages(c: &mut Criterion) {
    let bytes = sample_capture();
    let packets = decoded_packets(&bytes);
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(packets.len() as u64));

    group.bench_function("walk_records", |b| {
        b.iter(|| {
            let mut reader = Reader::new(&bytes).expect("sample capture reads");
            let mut caplen = 0usize;
            while let Some(Ok(Event::Packet(r))) = reader.next_event() {
                caplen += r.data.len();
            }
            caplen
        })
    });

    group.bench_function("decode_headers", |b| {
        let mut reader_records = Vec::new();
        let mut reader = Reader::new(&bytes).expect("sample capture reads");
        while let Some(Ok(Event::Packet(r))) = reader.next_event() {
            reader_records.push(r);
        }
        b.iter(|| reader_records.iter().filter(|r| decode(r.link_type, r.data, r.orig_len).is_ok()).count())
    });

    group.bench_function("flow_table", |b| {
        b.iter(|| {
            let mut table = FlowTable::new(FlowConfig::default());
            let mut out = FlowBatch::new();
            for &(meta, ts, len) in &packets {
                table.add(meta, ts, len, 0, &mut out);
            }
            table.finish(&mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
