fn main() {
    std::process::exit(warden::run(std::env::args_os().skip(1)));
}
