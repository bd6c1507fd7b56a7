// Plain Java, no Android: the contract, pre/post-processing and overlay, unit-tested on the JVM.
plugins {
    `java-library`
}

tasks.withType<JavaCompile>().configureEach {
    options.release.set(11) // classes any Android toolchain (D8) and JDK 11+ can consume
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    // The one contract definition (Python validates against it too): ContractSchemaTest checks the parser by it.
    systemProperty("contract.schema", rootProject.file("../export/contract.schema.json").absolutePath)
    // Golden fixtures from android_demo/write_golden.py (default: core/build/golden, or -PgoldenDir=...);
    // without them GoldenFixturesTest is skipped and the other unit tests still run.
    val golden = providers.gradleProperty("goldenDir").map { file(it) }
        .getOrElse(layout.buildDirectory.dir("golden").get().asFile)
    if (golden.isDirectory) {
        systemProperty("golden.dir", golden.absolutePath)
    }
}
