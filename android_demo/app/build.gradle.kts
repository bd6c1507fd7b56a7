plugins {
    alias(libs.plugins.android.application)
}

android {
    namespace = "dev.personseg.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "dev.personseg.demo"
        minSdk = 28 // ImageDecoder for gallery photos (applies EXIF rotation)
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    androidResources {
        noCompress += "tflite" // memory-map the model straight out of the APK
    }
}

dependencies {
    implementation(project(":core"))
    implementation(libs.litert)
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)
    implementation(libs.activity)
    implementation(libs.appcompat)
}
