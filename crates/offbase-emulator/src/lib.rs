//! A Base44 API emulator (being built).
