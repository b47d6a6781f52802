//! HPACK Huffman decoding (RFC 7541 section 5.2 and Appendix B): a state
//! machine that consumes four bits per step. The states are the inner nodes
//! of the code's tree (256 of them); the table, built once per process from
//! the code list, says for each state and nibble the next state and the
//! symbol completed on the way (codes are at least 5 bits, so at most one).

use std::sync::OnceLock;

use super::huffman_table::CODES;

/// The string is not valid Huffman: EOS inside, or padding that is longer
/// than 7 bits or not all ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HuffmanError;

const EOS: u16 = 256;
/// A symbol was completed during this step.
const EMIT: u8 = 1;
/// EOS was decoded (or the tree has no such path): invalid.
const FAIL: u8 = 2;

#[derive(Clone, Copy, Default)]
struct Step {
    next: u8,
    sym: u8,
    flags: u8,
}

struct Machine {
    steps: Box<[Step]>,
    /// Whether ending in each state is valid.
    accepting: [bool; 256],
}

/// A tree node's child: an inner node or a symbol.
#[derive(Clone, Copy)]
enum Child {
    Inner(u16),
    Leaf(u16),
    Empty,
}

fn machine() -> &'static Machine {
    static M: OnceLock<Machine> = OnceLock::new();
    M.get_or_init(build)
}

fn build() -> Machine {
    // The tree: node 0 is the root.
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
    for (sym, &(code, bits)) in CODES.iter().enumerate() {
        let mut n = 0usize;
        for i in (0..bits).rev() {
            let bit = ((code >> i) & 1) as usize;
            if i == 0 {
                nodes[n][bit] = Child::Leaf(sym as u16);
            } else {
                n = match nodes[n][bit] {
                    Child::Inner(next) => usize::from(next),
                    _ => {
                        nodes.push([Child::Empty; 2]);
                        let next = nodes.len() - 1;
                        nodes[n][bit] = Child::Inner(next as u16);
                        next
                    }
                };
            }
        }
    }
    // Accepting states: reached from the root through at most 7 one-bits.
    let mut accepting = [false; 256];
    let mut n = 0usize;
    for _ in 0..8 {
        accepting[n] = true;
        match nodes[n][1] {
            Child::Inner(next) => n = usize::from(next),
            _ => break,
        }
    }
    let mut steps = vec![Step::default(); nodes.len() * 16].into_boxed_slice();
    for (state, _) in nodes.iter().enumerate() {
        for nibble in 0..16u8 {
            let mut n = state;
            let mut step = Step::default();
            for i in (0..4).rev() {
                let bit = usize::from((nibble >> i) & 1);
                match nodes[n][bit] {
                    Child::Inner(next) => n = usize::from(next),
                    Child::Leaf(EOS) | Child::Empty => {
                        step.flags |= FAIL;
                        break;
                    }
                    Child::Leaf(sym) => {
                        step.sym = sym as u8;
                        step.flags |= EMIT;
                        n = 0;
                    }
                }
            }
            step.next = n as u8;
            steps[state * 16 + usize::from(nibble)] = step;
        }
    }
    Machine { steps, accepting }
}

/// Decodes `src`, appending to `out`.
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let m = machine();
    let mut state = 0u8;
    for &b in src {
        for nibble in [b >> 4, b & 0xf] {
            let step = m.steps[usize::from(state) * 16 + usize::from(nibble)];
            if step.flags & FAIL != 0 {
                return Err(HuffmanError);
            }
            if step.flags & EMIT != 0 {
                out.push(step.sym);
            }
            state = step.next;
        }
    }
    if m.accepting[usize::from(state)] {
        Ok(())
    } else {
        Err(HuffmanError)
    }
}

/// Encodes `src` (tests and the fuzz harness; requests are sent raw).
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        // Padding: the most significant bits of EOS (all ones).
        out.push(((acc << (8 - bits)) as u8) | (0xff >> bits));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(src, &mut out).map(|_| out)
    }

    #[test]
    fn rfc7541_examples_decode() {
        // Appendix C.4.1-C.4.3 and C.6.1.
        let cases: [(&[u8], &str); 5] = [
            (
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
                "www.example.com",
            ),
            (&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf], "no-cache"),
            (
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f],
                "custom-key",
            ),
            (
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf],
                "custom-value",
            ),
            (&[0x64, 0x02], "302"),
        ];
        for (src, want) in cases {
            assert_eq!(dec(src).unwrap(), want.as_bytes());
            let mut enc = Vec::new();
            encode(want.as_bytes(), &mut enc);
            assert_eq!(enc, src);
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        assert_eq!(dec(&enc).unwrap(), all);
        assert_eq!(dec(&[]).unwrap(), b"");
    }

    #[test]
    fn bad_padding_and_eos_are_errors() {
        // 'a' is 00011 (5 bits); padding of zeros is invalid.
        assert_eq!(dec(&[0b0001_1000]), Err(HuffmanError));
        assert_eq!(dec(&[0b0001_1111]).unwrap(), b"a");
        // A whole byte of padding (8 one-bits) is too long.
        assert_eq!(dec(&[0b0001_1111, 0xff]), Err(HuffmanError));
        // EOS (30 ones) inside the string.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xfc]), Err(HuffmanError));
    }
}
