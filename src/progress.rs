//! The progress bars of the operator's long commands (import, reindex, encrypt-existing): on a
//! terminal only — piped or logged output gets the summary alone.

/// A bar of `len` steps drawn with `template` (indicatif's), or a hidden one when not `visible`.
pub fn bar(len: u64, visible: bool, template: &str) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    )
}
