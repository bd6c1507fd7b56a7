pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "PersonSegDemo"
// app: the Android app (CameraX + LiteRT). core: plain Java (contract, pre/post-processing, overlay), unit-tested on the JVM.
include(":app", ":core")
