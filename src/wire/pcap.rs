//! A tiny classic-pcap (libpcap 2.4, `LINKTYPE_ETHERNET`) writer and reader.
//!
//! The writer lets the simulator dump a run for Wireshark: it writes into any
//! [`embedded_io::Write`] (a `&mut [u8]` cursor works), little-endian with
//! microsecond timestamps taken from [`crate::time::Instant`]. The reader
//! iterates the records of a capture held in memory (either byte order,
//! micro- or nanosecond timestamps); the golden tests use it.

use embedded_io::Write;

use super::Error;
use crate::time::Instant;

/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written by [`PcapWriter`].
pub const SNAPLEN: u32 = 65535;
/// Length of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 16;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// A write failure: the writer's own error, or a writer that accepted no
/// bytes (which would otherwise loop forever).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError<E> {
    Io(E),
    WriteZero,
}

/// Writes a pcap file header, then one record per frame.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

fn write_all<W: Write>(out: &mut W, mut buf: &[u8]) -> Result<(), WriteError<W::Error>> {
    while !buf.is_empty() {
        match out.write(buf) {
            Ok(0) => return Err(WriteError::WriteZero),
            Ok(n) => buf = buf.get(n..).unwrap_or(&[]),
            Err(e) => return Err(WriteError::Io(e)),
        }
    }
    Ok(())
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header (LINKTYPE_ETHERNET, snaplen 65535).
    pub fn new(mut out: W) -> Result<Self, WriteError<W::Error>> {
        let mut header = [0u8; FILE_HEADER_LEN];
        header[0..4].copy_from_slice(&MAGIC_MICROS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone (8..12) and sigfigs (12..16) stay 0.
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        write_all(&mut out, &header)?;
        Ok(PcapWriter { out })
    }

    /// Append one Ethernet frame captured at `at` (frames longer than the
    /// snapshot length are cut, with the original length recorded).
    pub fn write_frame(&mut self, at: Instant, frame: &[u8]) -> Result<(), WriteError<W::Error>> {
        let micros = at.as_micros();
        let secs = u32::try_from(micros / 1_000_000).unwrap_or(u32::MAX);
        // Always < 1_000_000, so it fits.
        let usecs = u32::try_from(micros % 1_000_000).unwrap_or(0);
        let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let incl_len = orig_len.min(SNAPLEN);
        let mut header = [0u8; RECORD_HEADER_LEN];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&usecs.to_le_bytes());
        header[8..12].copy_from_slice(&incl_len.to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.to_le_bytes());
        write_all(&mut self.out, &header)?;
        let data = frame.get(..incl_len as usize).unwrap_or(frame);
        write_all(&mut self.out, data)
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> Result<(), WriteError<W::Error>> {
        self.out.flush().map_err(WriteError::Io)
    }

    /// Give the underlying writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A pcap capture held in memory.
#[derive(Clone, Copy, Debug)]
pub struct PcapReader<'a> {
    records: &'a [u8],
    big_endian: bool,
    nanos: bool,
    snaplen: u32,
    linktype: u32,
}

/// One captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Capture time in microseconds since the epoch of the capture.
    pub ts_micros: u64,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// The captured bytes (`incl_len` of them).
    pub data: &'a [u8],
}

impl<'a> PcapReader<'a> {
    /// Read the file header. Errors: [`Error::Truncated`],
    /// [`Error::BadPcapMagic`].
    pub fn new(data: &'a [u8]) -> Result<Self, Error> {
        let header = data.get(..FILE_HEADER_LEN).ok_or(Error::Truncated)?;
        let magic_bytes = [header[0], header[1], header[2], header[3]];
        let le = u32::from_le_bytes(magic_bytes);
        let be = u32::from_be_bytes(magic_bytes);
        let (big_endian, nanos) = match (le, be) {
            (MAGIC_MICROS, _) => (false, false),
            (MAGIC_NANOS, _) => (false, true),
            (_, MAGIC_MICROS) => (true, false),
            (_, MAGIC_NANOS) => (true, true),
            _ => return Err(Error::BadPcapMagic { magic: be }),
        };
        let reader = PcapReader {
            records: data.get(FILE_HEADER_LEN..).unwrap_or(&[]),
            big_endian,
            nanos,
            snaplen: 0,
            linktype: 0,
        };
        Ok(PcapReader {
            snaplen: reader.u32_at(&header[16..20]),
            linktype: reader.u32_at(&header[20..24]),
            ..reader
        })
    }

    fn u32_at(&self, bytes: &[u8]) -> u32 {
        let b = match bytes {
            [a, b, c, d, ..] => [*a, *b, *c, *d],
            _ => [0; 4],
        };
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// The link type (1 = Ethernet).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// The snapshot length.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Iterate the records. The iterator yields one error and stops if a
    /// record is cut short ([`Error::Truncated`] for its header,
    /// [`Error::BadPcapRecord`] for its data).
    pub fn records(&self) -> Records<'a> {
        Records {
            reader: *self,
            rest: self.records,
            failed: false,
        }
    }
}

/// Iterator over the records of a [`PcapReader`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    reader: PcapReader<'a>,
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let Some(header) = self.rest.get(..RECORD_HEADER_LEN) else {
            self.failed = true;
            return Some(Err(Error::Truncated));
        };
        let r = &self.reader;
        let secs = r.u32_at(&header[0..4]);
        let frac = r.u32_at(&header[4..8]);
        let incl_len = r.u32_at(&header[8..12]);
        let orig_len = r.u32_at(&header[12..16]);
        let end = usize::try_from(incl_len)
            .ok()
            .and_then(|n| n.checked_add(RECORD_HEADER_LEN));
        let Some(data) = end.and_then(|end| self.rest.get(RECORD_HEADER_LEN..end)) else {
            self.failed = true;
            return Some(Err(Error::BadPcapRecord { incl_len }));
        };
        self.rest = self
            .rest
            .get(RECORD_HEADER_LEN + data.len()..)
            .unwrap_or(&[]);
        let frac_micros = if r.nanos { frac / 1000 } else { frac };
        Some(Ok(Record {
            ts_micros: u64::from(secs) * 1_000_000 + u64::from(frac_micros),
            orig_len,
            data,
        }))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_write_then_read() {
        let mut buf = [0xa5u8; 256];
        let frames: [&[u8]; 3] = [&[1, 2, 3], &[], &[9; 60]];
        let times = [
            Instant::from_micros(0),
            Instant::from_micros(1_500_000),
            Instant::from_micros(4_000_000_123),
        ];
        let written = {
            let mut cursor: &mut [u8] = &mut buf[..];
            let mut w = PcapWriter::new(&mut cursor).unwrap();
            for (t, f) in times.iter().zip(frames) {
                w.write_frame(*t, f).unwrap();
            }
            w.flush().unwrap();
            let _ = w.into_inner();
            256 - cursor.len()
        };
        assert_eq!(written, 24 + 3 * 16 + 3 + 60);
        // The file header, explicit little-endian.
        assert_eq!(
            &buf[..24],
            &[
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0
            ]
        );
        // Second record header: 1 s, 500000 us, 0 octets.
        assert_eq!(
            &buf[24 + 16 + 3..24 + 16 + 3 + 16],
            &[1, 0, 0, 0, 0x20, 0xa1, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let reader = PcapReader::new(&buf[..written]).unwrap();
        assert_eq!(reader.linktype(), LINKTYPE_ETHERNET);
        assert_eq!(reader.snaplen(), SNAPLEN);
        let records: heapless::Vec<Record<'_>, 4> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(records.len(), 3);
        for ((rec, t), f) in records.iter().zip(times).zip(frames) {
            assert_eq!(rec.ts_micros, t.as_micros());
            assert_eq!(rec.data, f);
            assert_eq!(rec.orig_len as usize, f.len());
        }
    }

    #[test]
    fn test_writer_full() {
        let mut buf = [0u8; 30];
        let mut cursor: &mut [u8] = &mut buf[..];
        let mut w = PcapWriter::new(&mut cursor).unwrap();
        assert!(matches!(
            w.write_frame(Instant::ZERO, &[0; 10]),
            Err(WriteError::Io(_))
        ));
    }

    #[test]
    fn test_reader_big_endian_nanos() {
        let mut file = [0u8; 24 + 16 + 2];
        file[0..4].copy_from_slice(&MAGIC_NANOS.to_be_bytes());
        file[20..24].copy_from_slice(&1u32.to_be_bytes());
        file[24..28].copy_from_slice(&2u32.to_be_bytes());
        file[28..32].copy_from_slice(&3_000u32.to_be_bytes());
        file[32..36].copy_from_slice(&2u32.to_be_bytes());
        file[36..40].copy_from_slice(&2u32.to_be_bytes());
        file[40] = 0xab;
        file[41] = 0xcd;
        let r = PcapReader::new(&file).unwrap();
        assert_eq!(r.linktype(), 1);
        let mut it = r.records();
        assert_eq!(
            it.next(),
            Some(Ok(Record {
                ts_micros: 2_000_003,
                orig_len: 2,
                data: &[0xab, 0xcd]
            }))
        );
        assert_eq!(it.next(), None);
    }

    #[test]
    fn test_reader_errors() {
        assert_eq!(PcapReader::new(&[0; 23]).err(), Some(Error::Truncated));
        assert_eq!(
            PcapReader::new(&[0x12; 24]).err(),
            Some(Error::BadPcapMagic { magic: 0x1212_1212 })
        );
        let mut file = [0u8; 24 + 16 + 1];
        file[0..4].copy_from_slice(&MAGIC_MICROS.to_le_bytes());
        file[32..36].copy_from_slice(&2u32.to_le_bytes());
        let r = PcapReader::new(&file).unwrap();
        let mut it = r.records();
        assert_eq!(it.next(), Some(Err(Error::BadPcapRecord { incl_len: 2 })));
        assert_eq!(it.next(), None);
        let r = PcapReader::new(&file[..24 + 10]).unwrap();
        let mut it = r.records();
        assert_eq!(it.next(), Some(Err(Error::Truncated)));
        assert_eq!(it.next(), None);
    }
}
