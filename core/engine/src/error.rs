//! The error domain of the optimizer and its stable mapping to the C ABI's
//! `PYJAMAZ_ERR_*` codes.
//!
//! Every failure a caller can provoke with bad input or options has its own
//! variant, so the bindings can surface a typed error instead of parsing text.

use std::fmt;

/// A stable numeric code of the C ABI (`PYJAMAZ_OK`, `PYJAMAZ_ERR_*` in
/// `include/pyjamaz.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    NullPointer = 1,
    EmptyInput = 2,
    UnknownFormat = 3,
    CorruptInput = 4,
    TruncatedInput = 5,
    LimitsExceeded = 6,
    InvalidOptions = 7,
    Encode = 8,
    Internal = 9,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::Ok,
        ErrorCode::NullPointer,
        ErrorCode::EmptyInput,
        ErrorCode::UnknownFormat,
        ErrorCode::CorruptInput,
        ErrorCode::TruncatedInput,
        ErrorCode::LimitsExceeded,
        ErrorCode::InvalidOptions,
        ErrorCode::Encode,
        ErrorCode::Internal,
    ];

    /// The numeric value used across the C ABI.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The code for a numeric value, if it is one the ABI defines.
    pub fn from_i32(value: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_i32() == value)
    }

    /// The symbolic name the bindings expose, e.g. `CORRUPT_INPUT`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "OK",
            ErrorCode::NullPointer => "NULL_POINTER",
            ErrorCode::EmptyInput => "EMPTY_INPUT",
            ErrorCode::UnknownFormat => "UNKNOWN_FORMAT",
            ErrorCode::CorruptInput => "CORRUPT_INPUT",
            ErrorCode::TruncatedInput => "TRUNCATED_INPUT",
            ErrorCode::LimitsExceeded => "LIMITS_EXCEEDED",
            ErrorCode::InvalidOptions => "INVALID_OPTIONS",
            ErrorCode::Encode => "ENCODE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an optimize call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} pointer is null")]
    NullPointer { what: &'static str },

    #[error("input is empty")]
    EmptyInput,

    #[error("input matches no supported image format (jpeg, png, webp, gif)")]
    UnknownFormat,

    #[error("{format} data is corrupt")]
    Corrupt {
        format: &'static str,
        #[source]
        source: Option<image::ImageError>,
    },

    #[error("{format} data ends early: {detail}")]
    Truncated {
        format: &'static str,
        detail: &'static str,
    },

    #[error("image of {width}x{height} exceeds the decode limits ({detail})")]
    LimitsExceeded {
        width: u32,
        height: u32,
        detail: String,
    },

    #[error("invalid options: {0}")]
    InvalidOptions(String),

    #[error("{format} encoder failed: {detail}")]
    Encode {
        format: &'static str,
        detail: String,
    },

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The C ABI code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NullPointer { .. } => ErrorCode::NullPointer,
            Error::EmptyInput => ErrorCode::EmptyInput,
            Error::UnknownFormat => ErrorCode::UnknownFormat,
            Error::Corrupt { .. } => ErrorCode::CorruptInput,
            Error::Truncated { .. } => ErrorCode::TruncatedInput,
            Error::LimitsExceeded { .. } => ErrorCode::LimitsExceeded,
            Error::InvalidOptions(_) => ErrorCode::InvalidOptions,
            Error::Encode { .. } => ErrorCode::Encode,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message with its causes, as the C ABI reports it: the bindings
    /// only see this string, so the cause chain is flattened into it.
    pub fn full_message(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_the_header_values() {
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code.as_i32(), i as i32);
            assert_eq!(ErrorCode::from_i32(i as i32), Some(code));
        }
        assert_eq!(ErrorCode::from_i32(10), None);
        assert_eq!(ErrorCode::from_i32(-1), None);
    }

    #[test]
    fn full_message_includes_the_cause() {
        let err = Error::Corrupt {
            format: "png",
            source: Some(image::ImageError::IoError(std::io::Error::other("bad crc"))),
        };
        assert_eq!(err.code(), ErrorCode::CorruptInput);
        assert_eq!(err.full_message(), "png data is corrupt: bad crc");
    }
}
