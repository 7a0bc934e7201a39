fn main() {
    println!(
        "keepvip {} ({})",
        keepvip::limits::VERSION,
        keepvip::limits::GIT_REV
    );
}
