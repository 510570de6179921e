//! Borrowing the caller's (pointer, length) inputs.
use std::slice;

use crate::guard::Failure;
use crate::status::PORTCULLIS_ERR_INVALID_ARGUMENT;

/// Borrows `len` bytes at `data` for the duration of one call.
///
/// A length above `isize::MAX` cannot describe a real allocation and is rejected with
/// `PORTCULLIS_ERR_INVALID_ARGUMENT` instead of being trusted.
///
/// # Safety
/// `data` is not NULL and, when `len <= isize::MAX`, valid for reads of `len` bytes that no
/// one writes during the call.
pub(crate) unsafe fn bytes<'a>(
    data: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if isize::try_from(len).is_err() {
        return Err(Failure::new(
            PORTCULLIS_ERR_INVALID_ARGUMENT,
            format!("{what} length {len} is larger than any allocation can be"),
        ));
    }
    // SAFETY: `data` is non-NULL and readable for `len` bytes (caller's guarantee), and
    // `len <= isize::MAX` was checked above. u8 has alignment 1.
    Ok(unsafe { slice::from_raw_parts(data, len) })
}
