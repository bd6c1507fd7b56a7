package dev.personseg.demo;

import android.Manifest;
import android.content.pm.PackageManager;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Bundle;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.RadioGroup;
import android.widget.Spinner;
import android.widget.TextView;
import android.widget.Toast;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.PickVisualMediaRequest;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.appcompat.app.AppCompatActivity;
import androidx.camera.core.ImageProxy;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.content.ContextCompat;
import com.google.common.util.concurrent.ListenableFuture;
import dev.personseg.core.FrameStats;
import dev.personseg.core.Overlay;
import dev.personseg.core.Segmenter;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Camera preview with the person mask over it, inference time and FPS, CPU/GPU and thread
 * controls, and gallery photos. Pixels go from CameraX / the gallery into the core's Segmenter
 * and back as a mask; every model detail comes from assets/model.json. The camera's use cases are
 * {@link CameraFeed}'s, photo decoding {@link PhotoDecoder}'s.
 *
 * <p>The engine lives on one thread ({@link #inference}): camera frames, photos and engine
 * (re)builds all run there, so the interpreter is never used concurrently.
 */
public final class MainActivity extends AppCompatActivity {
    private static final int MASK_COLOR = 0x9900e676; // translucent green
    private static final int[] THREAD_CHOICES = {1, 2, 4, 8};
    private static final int DEFAULT_THREADS = 4;
    private static final int MAX_PHOTO_SIDE = 1600; // decode big photos smaller: the mask is made at this size

    private final ExecutorService inference = Executors.newSingleThreadExecutor();
    private final FrameStats stats = new FrameStats(0.1);
    private SegmentationEngine engine; // inference thread only
    private int[] framePixels = new int[0]; // inference thread only
    private int[] layerPixels = new int[0]; // inference thread only

    private volatile boolean showingPhoto;
    private volatile boolean frontCamera;
    private SegmentationEngine.Accelerator accelerator = SegmentationEngine.Accelerator.CPU;
    private int threads = DEFAULT_THREADS;
    private ProcessCameraProvider cameraProvider;

    private PreviewView previewView;
    private OverlayView overlay;
    private ImageView photo;
    private TextView status;
    private Button flipOrLive;

    private final ActivityResultLauncher<String> cameraPermission = registerForActivityResult(
            new ActivityResultContracts.RequestPermission(), granted -> {
                if (granted) {
                    startCamera();
                } else {
                    status.setText(R.string.no_camera);
                }
            });

    private final ActivityResultLauncher<PickVisualMediaRequest> pickPhoto = registerForActivityResult(
            new ActivityResultContracts.PickVisualMedia(), uri -> {
                if (uri != null) {
                    segmentPhoto(uri);
                }
            });

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        previewView = findViewById(R.id.preview);
        overlay = findViewById(R.id.overlay);
        photo = findViewById(R.id.photo);
        status = findViewById(R.id.status);
        flipOrLive = findViewById(R.id.flip_or_live);

        RadioGroup acceleratorGroup = findViewById(R.id.accelerator);
        acceleratorGroup.setOnCheckedChangeListener((group, checkedId) -> {
            accelerator = checkedId == R.id.use_gpu ? SegmentationEngine.Accelerator.GPU : SegmentationEngine.Accelerator.CPU;
            loadEngine();
        });
        setUpThreadChoice(findViewById(R.id.threads));
        findViewById(R.id.pick_photo).setOnClickListener(v -> pickPhoto.launch(new PickVisualMediaRequest.Builder()
                .setMediaType(ActivityResultContracts.PickVisualMedia.ImageOnly.INSTANCE).build()));
        flipOrLive.setOnClickListener(v -> {
            if (showingPhoto) {
                showLive();
            } else {
                frontCamera = !frontCamera;
                startCamera();
            }
        });
        photo.setOnClickListener(v -> showLive());

        loadEngine();
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            cameraPermission.launch(Manifest.permission.CAMERA);
        }
    }

    @Override
    protected void onDestroy() {
        if (cameraProvider != null) {
            cameraProvider.unbindAll(); // no more frames for the executor we shut down next
        }
        inference.execute(this::closeEngine);
        inference.shutdown();
        super.onDestroy();
    }

    private void setUpThreadChoice(Spinner spinner) {
        String[] labels = new String[THREAD_CHOICES.length];
        int selected = 0;
        for (int i = 0; i < THREAD_CHOICES.length; i++) {
            labels[i] = THREAD_CHOICES[i] + (THREAD_CHOICES[i] == 1 ? " thread" : " threads");
            selected = THREAD_CHOICES[i] == DEFAULT_THREADS ? i : selected;
        }
        ArrayAdapter<String> adapter = new ArrayAdapter<>(this, R.layout.spinner_item, labels);
        adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        spinner.setAdapter(adapter);
        spinner.setSelection(selected, false);
        spinner.setOnItemSelectedListener(new AdapterView.OnItemSelectedListener() {
            @Override
            public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
                if (THREAD_CHOICES[position] != threads) {
                    threads = THREAD_CHOICES[position];
                    loadEngine();
                }
            }

            @Override
            public void onNothingSelected(AdapterView<?> parent) {
            }
        });
    }

    /** (Re)builds the engine with the chosen accelerator and threads, on the inference thread. */
    private void loadEngine() {
        SegmentationEngine.Accelerator wanted = accelerator;
        int threadCount = threads;
        status.setText(R.string.loading);
        inference.execute(() -> {
            closeEngine();
            try {
                engine = SegmentationEngine.create(this, wanted, threadCount);
                stats.reset();
                String fallback = engine.fallbackReason;
                String text = engine.contract().describe() + "\n" + engine.runningOn;
                runOnUiThread(() -> {
                    status.setText(text);
                    if (fallback != null) {
                        Toast.makeText(this, "GPU not used, running on the CPU: " + fallback, Toast.LENGTH_LONG).show();
                    }
                });
            } catch (IOException | RuntimeException e) {
                runOnUiThread(() -> status.setText("Cannot load the model: " + e.getMessage()));
            }
        });
    }

    private void closeEngine() {
        if (engine != null) {
            engine.close();
            engine = null;
        }
    }

    private void startCamera() {
        ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
        future.addListener(() -> {
            try {
                cameraProvider = future.get();
            } catch (ExecutionException | InterruptedException e) {
                status.setText("Camera unavailable: " + e.getMessage());
                return;
            }
            cameraProvider.unbindAll(); // no frame of the old camera lands after the clear below
            overlay.clear();
            stats.reset();
            try {
                CameraFeed.bind(cameraProvider, this, previewView, frontCamera, inference, this::analyze);
            } catch (IllegalArgumentException e) {
                status.setText("No " + (frontCamera ? "front" : "back") + " camera: " + e.getMessage());
            }
        }, ContextCompat.getMainExecutor(this));
    }

    /** One camera frame, on the inference thread. */
    private void analyze(ImageProxy image) {
        try {
            if (engine == null || showingPhoto) {
                return;
            }
            Bitmap frame = CameraFeed.upright(image);
            int w = frame.getWidth();
            int h = frame.getHeight();
            if (framePixels.length != w * h) {
                framePixels = new int[w * h];
            }
            frame.getPixels(framePixels, 0, w, 0, 0, w, h);
            Segmenter.Result result = engine.segment(framePixels, w, h);
            layerPixels = Overlay.maskLayer(result.mask, MASK_COLOR, layerPixels);
            Bitmap layer = Bitmap.createBitmap(layerPixels, w, h, Bitmap.Config.ARGB_8888); // copies: the array is reused
            stats.frame(System.nanoTime(), result.inferenceMs);
            String text = String.format(Locale.US, "%s\n%s%s\ninference %.1f ms (pre %.1f, post %.1f) | %.1f FPS | %dx%d",
                    engine.contract().describe(), engine.runningOn,
                    engine.fallbackReason == null ? "" : " (GPU refused)", stats.inferenceMs(),
                    result.preprocessMs, result.postprocessMs, stats.fps(), w, h);
            boolean mirror = frontCamera; // PreviewView mirrors the front camera; analysis frames are not mirrored
            runOnUiThread(() -> {
                if (!showingPhoto) {
                    overlay.setMask(layer, mirror);
                    status.setText(text);
                }
            });
        } catch (RuntimeException e) {
            closeEngine();
            runOnUiThread(() -> status.setText("Inference failed, pick CPU or GPU to retry: " + e.getMessage()));
        } finally {
            image.close();
        }
    }

    private void segmentPhoto(Uri uri) {
        showingPhoto = true;
        overlay.clear();
        flipOrLive.setText(R.string.live);
        status.setText(R.string.loading);
        inference.execute(() -> {
            if (engine == null) {
                runOnUiThread(() -> status.setText("No model loaded: see the message above, or pick CPU to retry"));
                return;
            }
            try {
                Bitmap bitmap = PhotoDecoder.decode(getContentResolver(), uri, MAX_PHOTO_SIDE);
                int w = bitmap.getWidth();
                int h = bitmap.getHeight();
                int[] argb = new int[w * h];
                bitmap.getPixels(argb, 0, w, 0, 0, w, h);
                Segmenter.Result result = engine.segment(argb, w, h);
                Bitmap shown = Bitmap.createBitmap(Overlay.blend(argb, result.mask, MASK_COLOR, argb), w, h, Bitmap.Config.ARGB_8888);
                String text = String.format(Locale.US, "%s\n%s\nphoto %dx%d: inference %.1f ms (pre %.1f, post %.1f), %.0f%% person",
                        engine.contract().describe(), engine.runningOn, w, h, result.inferenceMs, result.preprocessMs,
                        result.postprocessMs, 100.0 * result.personPixels() / (w * h));
                runOnUiThread(() -> {
                    if (showingPhoto) {
                        photo.setImageBitmap(shown);
                        photo.setVisibility(View.VISIBLE);
                        status.setText(text);
                    }
                });
            } catch (IOException | RuntimeException e) {
                runOnUiThread(() -> status.setText("Cannot segment the photo: " + e.getMessage()));
            }
        });
    }

    private void showLive() {
        showingPhoto = false;
        photo.setVisibility(View.GONE);
        photo.setImageBitmap(null);
        flipOrLive.setText(R.string.flip);
        stats.reset();
    }
}
