//! Latency histograms as text: base64 of HdrHistogram's V2 deflate encoding,
//! so a peer can report its histograms inside JSON and a registry can merge
//! them exactly (percentiles of a sum cannot be computed from percentiles).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hdrhistogram::serialization::{
    DeserializeError, Deserializer, Serializer, V2DeflateSerializer, V2Serializer,
};
use hdrhistogram::Histogram;

/// Encodes a histogram; `None` only if the encoder fails (it does not for
/// histograms made by the engine).
pub fn encode(h: &Histogram<u64>) -> Option<String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut buf).ok()?;
    Some(STANDARD.encode(buf))
}

/// Encodes without deflate: larger, but cheap enough to run for every
/// timeline interval (counts are varint-coded with runs of zeros skipped).
pub fn encode_plain(h: &Histogram<u64>) -> Option<String> {
    let mut buf = Vec::new();
    V2Serializer::new().serialize(h, &mut buf).ok()?;
    Some(STANDARD.encode(buf))
}

/// Why a histogram's text does not decode.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    #[error("invalid histogram: not base64: {0}")]
    Base64(base64::DecodeError),
    #[error("invalid histogram: {0:?}")]
    Decode(DeserializeError),
}

/// Decodes what [`encode`] or [`encode_plain`] produced; a one-line reason otherwise.
pub fn decode(text: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(HistogramError::Base64)?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(HistogramError::Decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_counts() {
        let mut h = goto_engine::stats::latency_histogram();
        for v in [1u64, 10, 100, 1_000, 10_000, 1_000_000] {
            h.record(v).ok();
        }
        for enc in [encode(&h), encode_plain(&h)] {
            let back = decode(&enc.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back.len(), h.len());
            assert_eq!(back.max(), h.max());
            assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode("not base64!").is_err());
        assert!(decode("AAAA").is_err());
    }
}
