//! A frame as one Parquet file: the file Polars' `ParquetWriter` writes with the same
//! compression (default statistics, version 1 pages of at most 1 MiB), except that rows
//! are cut into row groups of [`GROUP_ROWS`] rows or [`GROUP_ENTRIES`] per-packet values,
//! each group's columns encoded as Polars writes a frame of those rows alone, that the
//! values of list columns are byte-stream split, and faster.
//!
//! Row groups are the unit of work: a store part of 65,536 rows or 2^20 packets is four
//! groups, encoded side by side on the run's pool when the part is encoded on one of its
//! threads (store/parts.rs). Whole parts, a tenth of a second each on the 20 M-packet
//! campus capture, were coarse enough that on 16 threads the thread that happened to
//! encode the most of them was the busiest by a third. Readers gain too: Polars reads a
//! file's groups in parallel, and `features` and `export-mirage` hold a part's worth of
//! groups at a time (`store::for_each_batch`), whatever the size of the last part.
//!
//! Polars derives the repetition and definition levels of a list column with a general
//! Dremel walk that goes value by value through a ring buffer, three times per page (to
//! count the levels, then for each kind): on the 20 M-packet campus capture that walk
//! was a third of all Parquet encoding. A list of integers without nulls (every list
//! column of a store) has levels that follow from its offsets alone: each list starts
//! at repetition 0 and continues at 1, and every value is fully defined. Those columns'
//! pages are built here from the offsets; every other column goes through Polars'
//! encoder, and a frame this does not cover through Polars' writer, unchanged.
//!
//! The per-packet values are written BYTE_STREAM_SPLIT (byte k of every value, then byte
//! k + 1, ...) rather than PLAIN: a packet's length, window or flags fill the low bytes of
//! its 4-byte integer, a timestamp's high bytes repeat, so the split streams are long runs
//! that zstd compresses 2.5 times as fast, and smaller (on a part of the 20 M-packet campus
//! capture: 65 → 27 ms and 7.2 → 5.4 MB for the six lists). Readers need Parquet 2.11's
//! integer split encoding (formats/store.md lists which do).

use std::io::Write;
use std::ops::Range;

use polars::prelude::*;
use polars_arrow::array::{Array, ListArray, PrimitiveArray};
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema};
use polars_arrow::types::NativeType as ArrowNative;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::metadata::{Descriptor, SchemaDescriptor};
use polars_parquet::parquet::page::{DataPage, DataPageHeader, DataPageHeaderV1};
use polars_parquet::parquet::schema::types::PrimitiveType;
use polars_parquet::parquet::statistics::PrimitiveStatistics;
use polars_parquet::parquet::types::NativeType as ParquetNative;
use polars_parquet::write::{
    CompressedPage, CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter, Page, ParquetType,
    StatisticsOptions, Version, WriteOptions, array_to_columns, compress, fallible_streaming_iterator,
    get_dtype_encoding, to_parquet_leaves, to_parquet_schema,
};
use rayon::prelude::*;

use super::levels::encode_runs;

/// Rows of a row group, at most.
pub const GROUP_ROWS: usize = 16_384;
/// Per-packet values of a row group (in each list column): a group ends at the first row
/// that reaches this many.
pub const GROUP_ENTRIES: usize = 1 << 18;
/// Polars' page size when none is set.
const PAGE_BYTES: usize = 1024 * 1024;
/// Definition level of a value in a nullable list of nullable values (list present, list
/// not empty, value present), and of an empty list.
const DEF_VALUE: u32 = 3;
const DEF_EMPTY_LIST: u32 = 1;

/// Writes `df` to `out` in the row groups of [`row_groups`], each as
/// `ParquetWriter::new(out).with_compression(compression).set_parallel(false).finish(group)`
/// would write it alone, list values byte-stream split; returns the file's size. On a
/// thread of a rayon pool the groups are encoded as jobs of that pool.
pub fn write_frame<W: Write>(out: W, df: &mut DataFrame, compression: ParquetCompression) -> PolarsResult<u64> {
    let direct = df.height() > 0 && df.columns().iter().all(|c| c.as_materialized_series().n_chunks() == 1);
    if !direct {
        return ParquetWriter::new(out).with_compression(compression).set_parallel(false).finish(df);
    }
    let schema = arrow_schema(df);
    let options = write_options(CompressionOptions::from(compression));
    let parquet_schema = to_parquet_schema(&schema)?;
    let encode = |rows: &Range<usize>| encode_group(&df.slice(rows.start as i64, rows.len()), &parquet_schema, options);
    let groups = row_groups(df);
    // Off a pool (one thread, or a caller of its own) the groups are encoded here: a
    // parallel iterator would run on rayon's global pool, past the thread count asked for.
    let groups: Vec<Group> = match rayon::current_thread_index() {
        Some(_) => groups.par_iter().map(encode).collect::<PolarsResult<_>>()?,
        None => groups.iter().map(encode).collect::<PolarsResult<_>>()?,
    };
    let mut writer = FileWriter::try_new(out, schema, options)?;
    for group in &groups {
        let columns = group
            .columns
            .iter()
            .map(|pages| Ok(DynStreamingIterator::new(fallible_streaming_iterator::convert(pages.iter().map(Ok)))));
        writer.write(group.rows, DynIter::new(columns))?;
    }
    writer.end(None)
}

/// The rows of each row group of `df`: [`GROUP_ROWS`] rows, or fewer where the values of
/// its first list column (a store's lists all hold a row's packets) reach
/// [`GROUP_ENTRIES`].
pub fn row_groups(df: &DataFrame) -> Vec<Range<usize>> {
    let list = df.columns().iter().find_map(|c| c.list().ok());
    let lengths: Vec<usize> =
        list.map_or_else(Vec::new, |l| l.lst_lengths().iter().map(|n| n.unwrap_or(0) as usize).collect());
    let mut groups = Vec::new();
    let (mut start, mut entries) = (0, 0);
    for row in 0..df.height() {
        entries += lengths.get(row).copied().unwrap_or(0);
        if row + 1 - start == GROUP_ROWS || entries >= GROUP_ENTRIES || row + 1 == df.height() {
            groups.push(start..row + 1);
            (start, entries) = (row + 1, 0);
        }
    }
    groups
}

/// A row group's columns as compressed pages, ready to be written.
struct Group {
    rows: u64,
    /// The pages of each Parquet leaf column, in schema order.
    columns: Vec<Vec<CompressedPage>>,
}

/// Encodes and compresses the columns of `df` (one row group).
fn encode_group(df: &DataFrame, parquet_schema: &SchemaDescriptor, options: WriteOptions) -> PolarsResult<Group> {
    let mut columns = Vec::with_capacity(df.width());
    for (column, type_) in df.columns().iter().zip(parquet_schema.fields()) {
        let array = column.as_materialized_series().to_arrow(0, CompatLevel::newest());
        let leaves = match list_pages(array.as_ref(), type_, options)? {
            Some(pages) => vec![pages],
            None => array_to_columns(&array, type_.clone(), options, &get_dtype_encoding(array.dtype()))?
                .into_iter()
                .map(|pages| pages.collect::<PolarsResult<Vec<Page>>>())
                .collect::<PolarsResult<_>>()?,
        };
        for pages in leaves {
            let compressed = pages.into_iter().map(|page| compress(page, Vec::new(), options.compression));
            columns.push(compressed.collect::<Result<_, _>>()?);
        }
    }
    Ok(Group { rows: df.height() as u64, columns })
}

/// The frame's Arrow schema, as Polars' writer derives it.
fn arrow_schema(df: &DataFrame) -> ArrowSchema {
    df.schema().iter_fields().map(|f| f.to_arrow(CompatLevel::newest())).map(|f| (f.name.clone(), f)).collect()
}

/// Polars' writer's defaults: default statistics, version 1 pages of its default size.
fn write_options(compression: CompressionOptions) -> WriteOptions {
    WriteOptions { statistics: StatisticsOptions::default(), compression, version: Version::V1, data_page_size: None }
}

/// The pages of a list column of integers without nulls, or `None` for any other column.
fn list_pages(array: &dyn Array, type_: &ParquetType, options: WriteOptions) -> PolarsResult<Option<Vec<Page>>> {
    let Some(list) = array.as_any().downcast_ref::<ListArray<i64>>() else { return Ok(None) };
    let offsets = list.offsets().as_slice();
    // Pages are sized from the rows' own values, as Polars sizes them for a frame of
    // only these rows (for a slice of a longer list, it goes by the whole values array).
    if list.null_count() > 0 || list.values().null_count() > 0 {
        return Ok(None);
    }
    let [leaf] = <[PrimitiveType; 1]>::try_from(to_parquet_leaves(type_.clone()))
        .map_err(|_| polars_err!(ComputeError: "a list of one primitive has one Parquet leaf"))?;
    let values = list.values().as_any();
    macro_rules! pages {
        ($t:ty, $p:ty) => {
            values
                .downcast_ref::<PrimitiveArray<$t>>()
                .map(|v| list_column_pages::<$t, $p>(offsets, v.values(), &leaf, options))
        };
    }
    let pages = match list.values().dtype() {
        ArrowDataType::Int8 => pages!(i8, i32),
        ArrowDataType::Int16 => pages!(i16, i32),
        ArrowDataType::Int32 => pages!(i32, i32),
        ArrowDataType::Int64 => pages!(i64, i64),
        ArrowDataType::UInt8 => pages!(u8, i32),
        ArrowDataType::UInt16 => pages!(u16, i32),
        ArrowDataType::UInt32 => pages!(u32, i32),
        ArrowDataType::UInt64 => pages!(u64, i64),
        _ => None,
    };
    pages.transpose()
}

/// Splits the rows into pages as Polars does: rows per page from the values' bytes per row.
fn list_column_pages<T, P>(
    offsets: &[i64],
    values: &[T],
    leaf: &PrimitiveType,
    options: WriteOptions,
) -> PolarsResult<Vec<Page>>
where
    T: ArrowNative + PartialOrd + Stored<P>,
    P: ParquetNative,
{
    let rows = offsets.len() - 1;
    let first = offsets[0] as usize;
    let value_bytes = (offsets[rows] as usize - first) * size_of::<T>();
    let bytes_per_row = (value_bytes as f64 / rows as f64) as usize;
    let rows_per_page = (PAGE_BYTES / (bytes_per_row + 1)).max(1);
    (0..rows)
        .step_by(rows_per_page)
        .map(|start| {
            let end = (start + rows_per_page).min(rows);
            let offsets = &offsets[start..=end];
            let values = &values[offsets[0] as usize..offsets[end - start] as usize];
            list_page::<T, P>(offsets, values, leaf.clone(), options)
        })
        .collect()
}

/// One data page: repetition levels, definition levels (each run-length encoded behind
/// its byte length), the values byte-stream split, and min/max/null-count statistics.
fn list_page<T, P>(offsets: &[i64], values: &[T], leaf: PrimitiveType, options: WriteOptions) -> PolarsResult<Page>
where
    T: ArrowNative + PartialOrd + Stored<P>,
    P: ParquetNative,
{
    let lens = offsets.windows(2).map(|w| (w[1] - w[0]) as usize);
    // A list of n values has n levels; an empty one, one.
    let levels: usize = lens.clone().map(|n| n.max(1)).sum();
    // Each list starts at repetition 0 and goes on at 1; its values are all defined.
    let rep = lens.clone().flat_map(|n| [(0, 1), (1, n.saturating_sub(1))]);
    let def = lens.map(|n| if n == 0 { (DEF_EMPTY_LIST, 1) } else { (DEF_VALUE, n) });
    let mut buffer = Vec::with_capacity(levels / 2 + values.len() * size_of::<P>() + 16);
    let rep_len = length_prefixed(&mut buffer, |b| encode_runs(b, rep, 1))?;
    let def_len = length_prefixed(&mut buffer, |b| encode_runs(b, def, 2))?;
    byte_stream_split(&mut buffer, values);
    // Taken over the column's own type, then converted, as Polars does (a u32 above
    // i32::MAX is the largest value even though it is stored as a negative i32).
    let min = values.iter().copied().reduce(|a, b| if b < a { b } else { a });
    let max = values.iter().copied().reduce(|a, b| if b > a { b } else { a });
    let statistics = PrimitiveStatistics::<P> {
        primitive_type: leaf.clone(),
        null_count: Some(0),
        distinct_count: None,
        max_value: max.map(|v| v.stored().norm_max()),
        min_value: min.map(|v| v.stored().norm_min()),
    };
    debug_assert!(rep_len + def_len <= buffer.len());
    let header = DataPageHeader::V1(DataPageHeaderV1 {
        num_values: levels as i32,
        encoding: Encoding::ByteStreamSplit.into(),
        definition_level_encoding: Encoding::Rle.into(),
        repetition_level_encoding: Encoding::Rle.into(),
        statistics: options.has_statistics().then(|| statistics.serialize()),
    });
    let descriptor = Descriptor { primitive_type: leaf, max_def_level: 0, max_rep_level: 0 };
    Ok(Page::Data(DataPage::new(header, CowBuffer::Owned(buffer), descriptor, offsets.len() - 1)))
}

/// Appends `values` as Parquet's BYTE_STREAM_SPLIT encoding lays them out: byte k of
/// every value, for k from the least significant byte up.
fn byte_stream_split<T: Stored<P> + Copy, P: ParquetNative>(buffer: &mut Vec<u8>, values: &[T]) {
    let n = values.len();
    let at = buffer.len();
    buffer.resize(at + n * size_of::<P>(), 0);
    let out = &mut buffer[at..];
    for (i, v) in values.iter().enumerate() {
        for (k, b) in v.stored().to_le_bytes().as_ref().iter().enumerate() {
            out[k * n + i] = *b;
        }
    }
}

/// An integer as Parquet stores it: the narrow ones as i32, the 64-bit ones as i64 (an
/// unsigned value keeps its bits, as Polars writes it).
trait Stored<P> {
    fn stored(self) -> P;
}

macro_rules! stored {
    ($($t:ty => $p:ty),*) => { $( impl Stored<$p> for $t { fn stored(self) -> $p { self as $p } } )* };
}
stored!(i8 => i32, i16 => i32, i32 => i32, u8 => i32, u16 => i32, u32 => i32, i64 => i64, u64 => i64);

/// Writes a 4-byte little-endian length, then what `encode` writes; returns the bytes in all.
fn length_prefixed(
    buffer: &mut Vec<u8>,
    encode: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> PolarsResult<usize> {
    let at = buffer.len();
    buffer.extend_from_slice(&[0; 4]);
    encode(buffer)?;
    let len = (buffer.len() - at - 4) as i32;
    buffer[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(buffer.len() - at)
}

#[cfg(test)]
mod tests {
    use flowmine_core::flow::FlowBatch;
    use polars_utils::compression::ZstdLevel;

    use polars_parquet::parquet::encoding::byte_stream_split::Decoder as ByteStreamSplit;
    use polars_parquet::parquet::schema::types::PhysicalType;

    use super::*;
    use crate::store::rows::{RowContext, batch_to_rows};

    /// What Polars' own writer makes of `df`.
    fn polars_bytes(df: &mut DataFrame, compression: ParquetCompression) -> Vec<u8> {
        let mut out = Vec::new();
        ParquetWriter::new(&mut out).with_compression(compression).set_parallel(false).finish(df).unwrap();
        out
    }

    fn ours(df: &mut DataFrame, compression: ParquetCompression) -> Vec<u8> {
        let mut out = Vec::new();
        let size = write_frame(&mut out, df, compression).unwrap();
        assert_eq!(size, out.len() as u64);
        out
    }

    /// A batch of `rows` flows whose packet counts cycle through `lens`, with values that
    /// reach the ends of each column's type (u32 above i32::MAX, negative times).
    fn batch(rows: usize, lens: &[usize]) -> FlowBatch {
        let mut b = FlowBatch::new();
        let mut k = 0u64;
        for i in 0..rows {
            let n = lens[i % lens.len()];
            b.ip_version.push(if i % 3 == 0 { 6 } else { 4 });
            b.protocol.push([6, 17, 1][i % 3]);
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&(i as u64).to_be_bytes());
            b.src_addr.push(a);
            b.dst_addr.push([i as u8; 16]);
            b.src_port.push(i as u16);
            b.dst_port.push(u16::MAX - i as u16);
            b.vlan.push(0);
            b.first_ts_ns.push(i as i64 * 1000 - 5000);
            b.last_ts_ns.push(i as i64 * 1000);
            b.fwd_packets.push(n as u64);
            b.bwd_packets.push(0);
            b.fwd_bytes.push(u64::MAX - i as u64);
            b.bwd_bytes.push(0);
            b.fwd_wire_bytes.push(i as u64);
            b.bwd_wire_bytes.push(0);
            b.end_reason.push(flowmine_core::flow::EndReason::Idle);
            b.tunnel.push((i % 4) as u8);
            b.input_index.push(0);
            for _ in 0..n {
                k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                b.pkt_ts_ns.push((k >> 1) as i64 - (1 << 62));
                b.pkt_dir.push((k >> 7) as u8 & 1);
                b.pkt_ip_len.push((k >> 20) as u32 | if k & 1 == 0 { 0x8000_0000 } else { 0 });
                b.pkt_l4_payload_len.push((k >> 40) as u32 % 1500);
                b.pkt_tcp_flags.push((k >> 30) as u8);
                b.pkt_tcp_window.push((k >> 33) as u16);
            }
            b.pkt_offsets.push(b.pkt_ts_ns.len() as u64);
        }
        b
    }

    fn frame(rows: usize, lens: &[usize]) -> DataFrame {
        let ctx = RowContext { label: Some("x".into()), input_paths: vec!["a.pcap".into()] };
        batch_to_rows(batch(rows, lens), &ctx).unwrap()
    }

    /// The eight frames the tests write: one row to several pages per column.
    const CASES: [(usize, &[usize]); 8] = [
        (1, &[1]),
        (2, &[4]),             // 8 levels: the general encoder packs them
        (3, &[3]),             // 9 levels, none of an empty list: one run
        (5, &[0]),             // --packets none: every list empty
        (7, &[0, 3, 1, 0, 2]), // empty lists among full ones
        (3000, &[1, 2, 40, 0, 7]),
        (20, &[200_000]), // pages cut inside the rows: many values per row
        (70_000, &[11]),  // several pages per column
    ];

    fn options() -> WriteOptions {
        write_options(CompressionOptions::Uncompressed)
    }

    /// Each column's arrow array with its Parquet type.
    fn columns(df: &DataFrame) -> Vec<(Box<dyn Array>, ParquetType)> {
        let types = to_parquet_schema(&arrow_schema(df)).unwrap();
        df.columns()
            .iter()
            .zip(types.fields())
            .map(|(c, t)| (c.as_materialized_series().to_arrow(0, CompatLevel::newest()), t.clone()))
            .collect()
    }

    fn data_page(page: Page) -> DataPage {
        match page {
            Page::Data(page) => page,
            Page::Dict(_) => panic!("a list column has no dictionary page"),
        }
    }

    /// `page`'s buffer cut after its two length-prefixed level runs: (levels, values).
    fn split_levels(page: &DataPage) -> (&[u8], &[u8]) {
        let b = page.buffer();
        let len = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        let def_at = 4 + len(0);
        b.split_at(def_at + 4 + len(def_at))
    }

    #[test]
    fn list_pages_are_polars_pages_with_split_values() {
        for (rows, lens) in CASES {
            let df = frame(rows, lens);
            let lists =
                columns(&df).into_iter().zip(df.columns()).filter(|(_, c)| matches!(c.dtype(), DataType::List(_)));
            for ((array, type_), _) in lists {
                let ours = list_pages(array.as_ref(), &type_, options()).unwrap().unwrap();
                let theirs: Vec<Page> = array_to_columns(&array, type_.clone(), options(), &[Encoding::Plain])
                    .unwrap()
                    .into_iter()
                    .flatten()
                    .collect::<PolarsResult<_>>()
                    .unwrap();
                assert_eq!(ours.len(), theirs.len(), "{rows} rows of {lens:?}: pages");
                for (ours, theirs) in ours.into_iter().map(data_page).zip(theirs.into_iter().map(data_page)) {
                    let (DataPageHeader::V1(mut header), DataPageHeader::V1(expected)) =
                        (ours.header().clone(), theirs.header().clone())
                    else {
                        panic!("version 1 pages")
                    };
                    assert_eq!(header.encoding, Encoding::ByteStreamSplit.into());
                    header.encoding = Encoding::Plain.into();
                    assert_eq!(header, expected, "{rows} rows of {lens:?}");
                    assert_eq!((&ours.descriptor, ours.num_rows()), (&theirs.descriptor, theirs.num_rows()));
                    let ((our_levels, split), (their_levels, plain)) = (split_levels(&ours), split_levels(&theirs));
                    assert!(our_levels == their_levels, "{rows} rows of {lens:?}: levels");
                    // Joined again by Polars' own decoder, the values are Polars' plain bytes.
                    let width = match ours.descriptor.primitive_type.physical_type {
                        PhysicalType::Int32 => 4,
                        PhysicalType::Int64 => 8,
                        other => panic!("{other:?} is not a stored integer"),
                    };
                    let mut decoder = ByteStreamSplit::try_new(split, width).unwrap();
                    let mut joined = Vec::with_capacity(split.len());
                    while decoder.move_next() {
                        joined.extend_from_slice(decoder.current_value());
                    }
                    assert!(joined == plain, "{rows} rows of {lens:?}: values");
                }
            }
        }
    }

    #[test]
    fn files_read_back_as_their_frames() {
        let zstd = ParquetCompression::Zstd(Some(ZstdLevel::try_new(1).unwrap()));
        for (rows, lens) in CASES {
            for compression in [zstd, ParquetCompression::Uncompressed] {
                let df = frame(rows, lens);
                let bytes = ours(&mut df.clone(), compression);
                let back = ParquetReader::new(std::io::Cursor::new(bytes)).finish().unwrap();
                // Missing values compare equal: a frame's null tunnel column is its own.
                assert!(back.equals_missing(&df), "{rows} rows of {lens:?} packets, {compression:?}");
            }
        }
    }

    /// Each row group's column chunks, as bytes of the file.
    fn column_chunks(file: &[u8]) -> Vec<Vec<&[u8]>> {
        let metadata = polars_parquet::read::read_metadata(&mut std::io::Cursor::new(file)).unwrap();
        let chunk = |r: Range<u64>| &file[r.start as usize..r.end as usize];
        metadata.row_groups.iter().map(|g| g.byte_ranges_iter().map(chunk).collect()).collect()
    }

    #[test]
    fn each_row_group_is_the_file_of_its_rows_alone() {
        // Groups cut by rows (70,000 rows of 11 packets), by packets (two rows of 200,000
        // reach 2^18), and by both.
        for (rows, lens) in [(70_000, &[11][..]), (20, &[200_000]), (40_000, &[1, 30, 0])] {
            let mut df = frame(rows, lens);
            let groups = row_groups(&df);
            assert!(groups.len() > 1, "{rows} rows of {lens:?}");
            let file = ours(&mut df, ParquetCompression::Uncompressed);
            let chunks = column_chunks(&file);
            assert_eq!(chunks.len(), groups.len());
            for (rows, chunks) in groups.iter().zip(&chunks) {
                // A frame of the group's rows alone, gathered into new buffers: one group.
                let index = IdxCa::from_vec("i".into(), rows.clone().map(|i| i as IdxSize).collect());
                let mut alone = df.take(&index).unwrap();
                alone.rechunk_mut();
                let alone_file = ours(&mut alone, ParquetCompression::Uncompressed);
                assert_eq!(column_chunks(&alone_file), std::slice::from_ref(chunks), "rows {rows:?}");
            }
        }
    }

    #[test]
    fn row_groups_end_at_their_rows_or_their_packets() {
        let starts = |df: &DataFrame| row_groups(df).iter().map(|r| r.start).collect::<Vec<_>>();
        let no_lists = df!("n" => vec![0u8; 40_000]).unwrap();
        assert_eq!(row_groups(&no_lists), [0..16_384, 16_384..32_768, 32_768..40_000]);
        // 100,000 packets a row: the third row reaches 2^18.
        assert_eq!(starts(&frame(7, &[100_000])), [0, 3, 6]);
        // Exactly 2^18 in one row ends its group; empty lists count no packets.
        assert_eq!(starts(&frame(5, &[0, GROUP_ENTRIES])), [0, 2, 4]);
        assert_eq!(starts(&frame(3, &[2])), [0]);
    }

    #[test]
    fn a_pool_encodes_the_same_file() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let zstd = ParquetCompression::Zstd(Some(ZstdLevel::try_new(1).unwrap()));
        let df = frame(70_000, &[11, 2]);
        let on_pool = pool.install(|| ours(&mut df.clone(), zstd));
        assert!(on_pool == ours(&mut df.clone(), zstd));
    }

    #[test]
    fn values_are_split_low_byte_first() {
        let mut out = vec![0xee];
        byte_stream_split::<u32, i32>(&mut out, &[0x0403_0201, 0x0807_0605, 0x0c0b_0a09]);
        assert_eq!(out, [0xee, 0x01, 0x05, 0x09, 0x02, 0x06, 0x0a, 0x03, 0x07, 0x0b, 0x04, 0x08, 0x0c]);
        let mut out = Vec::new();
        byte_stream_split::<u8, i32>(&mut out, &[0xff]);
        assert_eq!(out, [0xff, 0, 0, 0]);
        let mut out = Vec::new();
        byte_stream_split::<i64, i64>(&mut out, &[-2, 1]);
        assert_eq!(out, [0xfe, 0x01, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0]);
    }

    #[test]
    fn every_list_column_of_a_store_takes_the_fast_path() {
        let df = frame(10, &[0, 3]);
        let mut lists = 0;
        for ((array, type_), column) in columns(&df).into_iter().zip(df.columns()) {
            let fast = list_pages(array.as_ref(), &type_, options()).unwrap().is_some();
            assert_eq!(fast, matches!(column.dtype(), DataType::List(_)), "{}", column.name());
            lists += usize::from(fast);
        }
        assert_eq!(lists, 6);
    }

    #[test]
    fn frames_it_does_not_cover_go_through_polars() {
        let mut empty = frame(0, &[1]);
        assert_eq!(
            ours(&mut empty.clone(), ParquetCompression::Uncompressed),
            polars_bytes(&mut empty, ParquetCompression::Uncompressed)
        );
        // Two chunks per column.
        let mut two = frame(10, &[2]);
        two.vstack_mut_owned(frame(5, &[0, 3])).unwrap();
        assert_eq!(
            ours(&mut two.clone(), ParquetCompression::Uncompressed),
            polars_bytes(&mut two, ParquetCompression::Uncompressed)
        );
    }
}
